"""dqfl: federated learning of dynamic quantum neural networks over a fading vehicular uplink."""

__version__ = "0.1.0"
