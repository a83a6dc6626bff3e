from keras import ops


def swish2(x):
    return x * ops.sigmoid(2.0 * x)
