"""Flower ServerApp: the roadside unit, its uplink and the layer-wise strategy."""
