"""relu_zoo: ReLU-family activation layers for Keras 3, a model zoo and activation comparisons."""

__version__ = "0.1.0"
