"""Credentials for a deployment that lets no one in: TLS certificates and SuperNode keys.

Writes, with the ``cryptography`` library (already required by Flower)::

    OUT/certificates/ca.crt, ca.key        a private certificate authority (keep ca.key offline)
    OUT/certificates/server.pem, server.key the SuperLink's certificate, signed by the CA, valid
                                            for the given host names / IP addresses
    OUT/keys/supernode-<i>, supernode-<i>.pub  one EC (NIST P-384) key pair per SuperNode, in
                                            the OpenSSH format Flower's node authentication reads

The SuperLink serves TLS with ``--ssl-ca-certfile ca.crt --ssl-certfile server.pem --ssl-keyfile
server.key`` and admits only registered SuperNodes (``--enable-supernode-auth``; register each
public key with ``flwr supernode register keys/supernode-<i>.pub <connection>``); each SuperNode
verifies the SuperLink with ``--root-certificates ca.crt`` and proves who it is with
``--auth-supernode-private-key keys/supernode-<i>``. Private keys are written with mode 0600.

Usage::

    python experiments/make_credentials.py --out deploy --supernodes 2 --host 127.0.0.1
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def certificates(out: Path, hosts: list[str]) -> dict[str, Path]:
    """A CA and a SuperLink server certificate for ``hosts`` (names or IP addresses)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dqfl deployment CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA384())
    )
    server_key = ec.generate_private_key(ec.SECP384R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA384())
    )
    folder = out / "certificates"
    paths = {
        "ca": folder / "ca.crt",
        "ca_key": folder / "ca.key",
        "cert": folder / "server.pem",
        "key": folder / "server.key",
    }
    _write(paths["ca"], ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(paths["ca_key"], _pem_key(ca_key), private=True)
    _write(paths["cert"], server_cert.public_bytes(serialization.Encoding.PEM))
    _write(paths["key"], _pem_key(server_key), private=True)
    return paths


def supernode_keys(out: Path, n: int, prefix: str = "supernode") -> list[tuple[Path, Path]]:
    """``n`` EC key pairs in OpenSSH format: (private, public) paths."""
    pairs = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP384R1())
        private = out / "keys" / f"{prefix}-{i}"
        public = private.with_name(private.name + ".pub")
        _write(
            private,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ),
            private=True,
        )
        _write(
            public,
            key.public_key().public_bytes(
                serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
            ),
        )
        pairs.append((private, public))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("deploy"), help="folder to write")
    parser.add_argument("--supernodes", type=int, default=2, help="key pairs to make")
    parser.add_argument(
        "--host",
        action="append",
        default=None,
        help="SuperLink host name or IP the certificate is valid for (repeatable; "
        "default 127.0.0.1 and localhost)",
    )
    args = parser.parse_args(argv)
    if args.supernodes < 1:
        parser.error("--supernodes must be >= 1")
    hosts = args.host or ["127.0.0.1", "localhost"]
    paths = certificates(args.out, hosts)
    pairs = supernode_keys(args.out, args.supernodes)
    print(f"wrote {paths['ca']}, {paths['cert']}, {paths['key']} (valid for {', '.join(hosts)})")
    print(f"wrote {len(pairs)} SuperNode key pair(s) under {args.out / 'keys'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
