"""Notebook 02: the network."""


def conv_parameters(c_in: int, c_out: int, k: int) -> int:
    """Weights of a k x k convolution plus one bias per output channel."""
    return c_in * c_out * k * k + c_out
