"""The pure stages: they take frames and config and return results; they never touch storage, the clock or the network."""
