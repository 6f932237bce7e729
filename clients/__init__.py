"""Flower ClientApp: one vehicle of the fleet."""
