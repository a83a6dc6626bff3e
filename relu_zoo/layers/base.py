"""Shared machinery of the relu_zoo layers: the activation record, validation, parameter shapes, Keras
compatibility."""

import dataclasses
import math

import keras
import ml_dtypes
import numpy as np
from keras import ops

from relu_zoo import _compat, activations

register = keras.saving.register_keras_serializable(package="relu_zoo")

# Initializer family -> the kernel initializer the zoo's models put before the activation. He et al. 2015
# derived their initialization for rectifiers; Klambauer et al. 2017 require LeCun normal for SELU's
# self-normalization; the smooth and gated activations keep Keras' Glorot default.
INITIALIZERS = {"rectifier": "he_normal", "self_normalizing": "lecun_normal", "smooth": "glorot_uniform",
                "gated": "glorot_uniform"}


@dataclasses.dataclass(frozen=True)
class Record:
    """What relu_zoo states about one activation, written once, on its layer (`@activation(...)`).

    The registry (`relu_zoo.get`, names and aliases), the models' initializer choice
    (`relu_zoo.models.kernel_initializer_for`), the tests' tables and the activation table of
    docs/howto/layers.md (`python tools/docs_tables.py`) are derived from the records. Keras' defaults, where
    they differ, are the layer's `keras_class` / `keras_default` (`KerasCompatible`); the table's paper is the
    layer docstring's `Reference:`.

    Attributes:
        name: The registry name, e.g. "leaky_relu".
        layer: The layer class.
        function: Its function in `relu_zoo.activations` (the math; the layer's `call` delegates to it).
        family: A key of `INITIALIZERS`.
        derivative_at_zero: The derivative at 0 with the default arguments, for parameter-free functions
            (their docstrings state the same value); None where parameters decide it.
        aliases: Alias -> the default arguments it implies, e.g. `{"rrelu_xu": {"lower": 3.0, ...}}`.
        formula: The formula on one line, for the docs table, e.g. "x if x > 0 else negative_slope·x" (the
            docstring's `Formula:` block is the full one).
        parameters: The arguments that change the function and their defaults, for the docs table, e.g.
            "negative_slope (0.01)"; "–" for none.
        derivative_text: The derivative at 0 in words where a parameter decides it (e.g. "negative_slope") or
            one number cannot say it; None shows `derivative_at_zero`.
        torch: The PyTorch counterpart the layer tests compare against: cases `(case id, constructor arguments,
            parameter values, expression)`, the expression computing the same function of `x` (and of the
            parameters, by name) with `torch` and `F` (`torch.nn.functional`), e.g.
            `("leaky_relu_0.2", {"negative_slope": 0.2}, {}, "F.leaky_relu(x, 0.2)")`. Written as literals:
            tests/layers/reference/make_torch_reference.py reads them from the layer file without importing
            relu_zoo (its environment has PyTorch, not Keras). For an activation that draws on its input's context
            (`ranks` below) the expression is its function's element-wise part, the context given as parameters.
        ranks: The input ranks the layer takes, for an activation that draws on each element's context (the
            positions around it, or the whole sample: FReLU, DY-ReLU, meta-ACON), e.g. `(3, 4)`; None for an
            element-wise activation, which takes any rank. The layer refuses other ranks at build time, the layer
            tests and the fuzz give it inputs of these ranks, and the model zoo refuses it in a model that applies
            its activation to other ranks (an MLP's rank-2 features) or predicts each position from earlier ones
            only (the decoder).
    """

    name: str
    layer: type
    function: object
    family: str
    derivative_at_zero: float = None
    aliases: dict = dataclasses.field(default_factory=dict)
    formula: str = ""
    parameters: str = "–"
    derivative_text: str = None
    torch: tuple = ()
    ranks: tuple = None


RECORDS = {}  # name -> Record, in the order the layers are imported


def activation(name, *, function, family, formula, derivative_at_zero=None, aliases=None, parameters="–",
               derivative_text=None, torch=(), ranks=None):
    """Class decorator of an activation layer: Keras serialization (`register`) and its `Record` in RECORDS; a
    layer with `ranks` gets them as its class attribute `ranks` too (`ContextActivation` checks inputs against it)."""
    if derivative_at_zero is None and derivative_text is None:
        raise ValueError(f"Activation {name!r}: state its derivative at 0, as `derivative_at_zero` (a number) or "
                         f"`derivative_text`. Received: derivative_at_zero=None, derivative_text=None")
    if family not in INITIALIZERS:
        raise ValueError(f"Activation {name!r}: `family` must be one of {', '.join(INITIALIZERS)}. "
                         f"Received: family={family!r}")
    if activations.FUNCTIONS.get(getattr(function, "__name__", None)) is not function:
        raise ValueError(f"Activation {name!r}: `function` must be one of relu_zoo.activations.FUNCTIONS. "
                         f"Received: function={function!r}")
    if name in RECORDS:
        raise ValueError(f"Activation {name!r} has a record already ({RECORDS[name].layer.__name__}).")
    for case in torch:
        if not (isinstance(case, tuple) and len(case) == 4 and isinstance(case[0], str) and isinstance(case[1], dict)
                and isinstance(case[2], dict) and isinstance(case[3], str)):
            raise ValueError(f"Activation {name!r}: each `torch` case is (case id, constructor arguments, parameter "
                             f"values, torch expression of x), e.g. ({name!r}, {{}}, {{}}, 'F.relu(x)'). "
                             f"Received: {case!r}")

    if ranks is not None and not (isinstance(ranks, tuple) and ranks and all(
            isinstance(r, int) and not isinstance(r, bool) and r >= 2 for r in ranks) and list(ranks) == sorted(
            set(ranks))):
        raise ValueError(f"Activation {name!r}: `ranks` is a sorted tuple of the input ranks (>= 2) its layer takes, "
                         f"e.g. (3, 4). Received: ranks={ranks!r}")

    def decorate(cls):
        RECORDS[name] = Record(name, cls, function, family, derivative_at_zero, dict(aliases or {}), formula,
                               parameters, derivative_text, tuple(torch), ranks)
        if ranks is not None:
            cls.ranks = ranks
        return register(cls)

    return decorate


def check_number(name, value, minimum=None, inclusive=True, allow_none=False):
    """`value` as a Python int or float; a ValueError naming `name` unless it is a finite real number >= / >
    `minimum`.

    NumPy scalars are accepted (and returned as Python numbers, which configs save). Infinities are refused like
    NaN: no argument needs one (`max_value=None` is "no cap"), and an infinite slope or scale makes the function
    NaN at finite inputs (`inf * 0`).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"Argument `{name}` must be a finite real number. Received: {name}={value!r}")
    if minimum is not None and (value < minimum if inclusive else value <= minimum):
        bound = ">=" if inclusive else ">"
        raise ValueError(f"Argument `{name}` must be {bound} {minimum}. Received: {name}={value!r}")
    return value


def check_int(name, value, minimum):
    """`value`; a ValueError naming `name` unless it is a Python int (not a bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Argument `{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return value


def check_dtype_range(layer, **arguments):
    """Raises a ValueError naming the argument unless each of `arguments` (None skipped) is 0 or a normal number
    of the layer's compute dtype: its magnitude at most the largest finite number (a slope of 1e5 is inf in
    float16), and at least the smallest normal number (TensorFlow's kernels flush smaller ones to 0, and a 16-bit
    dtype rounds them to 0). Either way the function would meet `0 * inf` or `0 / 0`: NaN at finite inputs."""
    dtype = keras.backend.standardize_dtype(layer.compute_dtype)
    if dtype not in ("float16", "bfloat16", "float32", "float64"):
        return
    info = ml_dtypes.finfo(dtype)
    largest, smallest = float(info.max), float(info.smallest_normal)
    for name, value in arguments.items():
        if value is not None and value != 0 and not smallest <= abs(value) <= largest:
            raise ValueError(f"Argument `{name}` must be 0 or a normal {dtype} number (the layer's dtype): "
                             f"{smallest:.8g} <= |{name}| <= {largest:.8g}. Received: {name}={value!r}")


def normalize_data_format(data_format):
    data_format = keras.config.image_data_format() if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "Argument `data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


class KerasCompatible:
    """Mixin of the layers that share a name with a Keras layer (ReLU, LeakyReLU, PReLU, ELU).

    Such a layer accepts the Keras layer's constructor arguments with the same meaning, and `from_config`
    loads the Keras layer's `get_config()`. Where relu_zoo's defaults differ on purpose (LeakyReLU 0.01,
    PReLU 0.25 per channel), `keras_default` says what Keras' default is (the layer table of docs/howto/layers.md
    shows it), and `from_keras(layer)` gives a layer with Keras' exact behaviour: its configuration, defaults
    included, and its weights.
    """

    keras_class = None  # the name in keras.layers
    keras_default = None  # Keras' default where relu_zoo's differs, as shown in the docs' layer table; None if the same

    @classmethod
    def from_keras(cls, layer):
        """The relu_zoo layer that computes what the `keras.layers.<keras_class>` instance `layer` does."""
        keras_cls = getattr(keras.layers, cls.keras_class)
        if not isinstance(layer, keras_cls):
            raise ValueError(f"{cls.__name__}.from_keras expects a keras.layers.{cls.keras_class}. "
                             f"Received: layer={layer!r}")
        twin = cls.from_config(layer.get_config())
        if layer.weights:
            twin.build((None,) + tuple(layer.weights[0].shape))
            twin.set_weights(layer.get_weights())
        return twin


class ElementwiseActivation(keras.layers.Layer):
    """Base of the parameter-free layers: shape in = shape out, masks pass through."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        _compat.build_at_init(self)

    def compute_output_shape(self, input_shape):
        return input_shape


class GatedActivation(keras.layers.Layer):
    """Base of the gated linear units (GLU, ReGLU, GEGLU, SwiGLU, bilinear): `a * act(b)` over halves of `axis`.

    Subclasses implement `call` with their function of `relu_zoo.activations`. The size of `axis` halves; an odd known size is a ValueError at build time. Masks (over batch and time
    axes) pass through when the gated axis is the last one, the feature axis Keras masks never cover.
    """

    def __init__(self, axis=-1, **kwargs):
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Argument `axis` must be an int. Received: axis={axis!r}")
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = axis == -1

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # the odd-size check, before any call

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if not -len(shape) <= self.axis < len(shape):
            raise ValueError(f"{type(self).__name__}: axis {self.axis} does not exist in an input of rank "
                             f"{len(shape)}. Received: input_shape={tuple(input_shape)}")
        size = shape[self.axis]
        if size is not None:
            if size % 2:
                raise ValueError(f"{type(self).__name__} splits axis {self.axis} into two halves, but it has odd "
                                 f"size {size}. Received: input_shape={tuple(input_shape)}")
            shape[self.axis] = size // 2
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def describe_ranks(ranks):
    """`(3, 4)` as "3 or 4", `(3, 4, 5)` as "3 to 5": the input ranks of a record, for messages."""
    ranks = tuple(ranks)
    if len(ranks) == 1:
        return str(ranks[0])
    if ranks == tuple(range(ranks[0], ranks[-1] + 1)) and len(ranks) > 2:
        return f"{ranks[0]} to {ranks[-1]}"
    return ", ".join(map(str, ranks[:-1])) + f" or {ranks[-1]}"


def torch_default_initializers(fan_in):
    """The initializers of PyTorch's `nn.Linear` and `nn.Conv2d` as Keras arguments: weights and biases U[±1/√fan_in]
    (kaiming_uniform with a = √5), what the reference code of DY-ReLU and meta-ACON leaves its dense layers at."""
    bound = fan_in ** -0.5
    return {"kernel_initializer": keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
            "bias_initializer": keras.initializers.RandomUniform(-bound, bound)}


class ContextActivation(keras.layers.Layer):
    """Base of the activations that draw on each element's context: the positions around it or the whole sample
    (FReLU, DY-ReLU, meta-ACON).

    Inputs are `(batch, positions..., channels)` of the ranks the record lists (`ranks`, which `@activation` sets),
    the channel axis last (`data_format="channels_last"`) or right after the batch axis (`"channels_first"`), as for
    Keras' convolutions; any other rank is a ValueError at build time that names the layer, the rank and the ranks it
    takes. Subclasses build their sublayers in `build()` after `channels(input_shape)`, and compute the context in
    `call()` before handing it to their function in `relu_zoo.activations`.
    """

    ranks = ()

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)

    def channels(self, input_shape):
        """The channel count of `input_shape`, after checking its rank and that the count is known."""
        rank = len(input_shape)
        if rank not in self.ranks:
            raise ValueError(f"{type(self).__name__} takes inputs of rank {describe_ranks(self.ranks)} (batch, "
                             f"positions..., channels), not rank {rank}. Received: input_shape={tuple(input_shape)}")
        channels = input_shape[self.channel_axis(rank)]
        if channels is None:
            raise ValueError(f"{type(self).__name__} needs a known channel size on axis {self.channel_axis(rank)} "
                             f"(data_format={self.data_format!r}). Received: input_shape={tuple(input_shape)}")
        return channels

    def channel_axis(self, rank):
        return 1 if self.data_format == "channels_first" else rank - 1

    def hyper_layers(self, channels, hidden, outputs, name):
        """The two dense layers of a hyper function of the pooled input, built, at PyTorch's default initialization
        (the reference code's): `squeeze` (channels -> hidden) and `name` (hidden -> outputs)."""
        squeeze = keras.layers.Dense(hidden, **torch_default_initializers(channels), dtype=self.dtype_policy,
                                     name="squeeze")
        second = keras.layers.Dense(outputs, **torch_default_initializers(hidden), dtype=self.dtype_policy, name=name)
        squeeze.build((None, channels))
        second.build((None, hidden))
        return squeeze, second

    def positions(self, rank):
        """The axes of the positions: every axis but the batch and channel axes."""
        return tuple(a for a in range(1, rank) if a != self.channel_axis(rank))

    def per_channel(self, values, rank):
        """`values` of shape (..., channels) reshaped to broadcast against an input of `rank`: (..., 1, ..., 1,
        channels), or (..., channels, 1, ..., 1) for channels_first."""
        ones = (1,) * (rank - 2)
        lead = tuple(-1 if d is None else d for d in values.shape[:-1])
        tail = (values.shape[-1],) + ones if self.data_format == "channels_first" else ones + (values.shape[-1],)
        return ops.reshape(values, lead + tail)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class ParametricActivation(keras.layers.Layer):
    """Base of the layers with learnable parameters (PReLU, SReLU, PELU, APL, Swish).

    Where the parameters live is decided the same way for all of them:

    - `channelwise=True` (default): one value per channel, shared over the
      batch and every other axis; the channel axis is the last one for
      `data_format="channels_last"` and axis 1 for `"channels_first"`. Only
      the channel size must be known, so inputs like `(None, None, None, C)`
      build.
    - `channelwise=False`: a single value shared by every unit.
    - `shared_axes=[...]` (keras.layers.PReLU semantics): one value per
      element of the input shape, except along the listed axes (1-based,
      counted after the batch axis as in Keras). Non-shared axes must be known.
      `shared_axes=[]` is Keras' default layout: one value per element.

    Subclasses list their parameters in `_parameters()` and add them in
    `build()` with `self._add_parameter(...)`. One whose papers learn one value per layer sets
    `per_layer_by_default`: its `channelwise=None` then means per layer unless `shared_axes` is given.
    """

    per_layer_by_default = False

    def __init__(self, shared_axes=None, channelwise=True, data_format=None, **kwargs):
        if channelwise is None and self.per_layer_by_default:
            channelwise = shared_axes is not None
        super().__init__(**kwargs)
        self.supports_masking = True
        if shared_axes is not None:
            try:
                axes = [shared_axes] if isinstance(shared_axes, int) else list(shared_axes)
            except TypeError:  # not a list (a float, say): the check below names the argument
                axes = [shared_axes]
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ValueError(
                    "Argument `shared_axes` must be a list of axis indices >= 1 (the batch axis 0 is "
                    f"always shared; [] shares none). Received: shared_axes={shared_axes!r}"
                )
            if not channelwise:
                raise ValueError(
                    "Arguments `shared_axes` and `channelwise=False` contradict each other; "
                    "pass only one. Received: shared_axes="
                    f"{shared_axes!r}, channelwise={channelwise!r}"
                )
            shared_axes = sorted(set(axes))
        if not isinstance(channelwise, bool):
            raise ValueError(f"Argument `channelwise` must be a bool. Received: channelwise={channelwise!r}")
        self.shared_axes = shared_axes
        self.channelwise = channelwise
        self.data_format = normalize_data_format(data_format)

    def _channel_axis(self, rank):
        return 1 if (self.data_format == "channels_first" and rank > 2) else rank - 1

    def parameter_shape(self, input_shape):
        """Shape of each parameter for `input_shape`; broadcasts against the input."""
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(
                f"{type(self).__name__} expects inputs of rank >= 2 (batch, ...). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if self.shared_axes is not None:
            if self.shared_axes and max(self.shared_axes) >= rank:
                raise ValueError(
                    f"Argument `shared_axes` names axis {max(self.shared_axes)} but the input has "
                    f"rank {rank}. Received: shared_axes={self.shared_axes}, input_shape={tuple(input_shape)}"
                )
            shape = [1 if i in self.shared_axes else input_shape[i] for i in range(1, rank)]
            if None in shape:
                raise ValueError(
                    f"{type(self).__name__} with `shared_axes` needs every non-shared axis to have a "
                    f"known size; share the unknown axes too. Received: input_shape={tuple(input_shape)}, "
                    f"shared_axes={self.shared_axes}"
                )
            return tuple(shape)
        if not self.channelwise:
            return ()
        axis = self._channel_axis(rank)
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} with `channelwise=True` needs a known channel size on axis "
                f"{axis}. Received: input_shape={tuple(input_shape)}. Pass `channelwise=False` for a "
                "single shared parameter, or fix the channel dimension."
            )
        # Trailing ones let a per-channel vector broadcast in channels_first layouts.
        return (channels,) + (1,) * (rank - 1 - axis)

    def _add_parameter(self, name, shape, initializer, regularizer=None, constraint=None):
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=initializer,
            regularizer=regularizer,
            constraint=constraint,
            trainable=True,
        )

    def _param(self, variable):
        # Parameters stay float32 under mixed precision; compute in the input's dtype.
        return ops.cast(variable, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "shared_axes": self.shared_axes,
                "channelwise": self.channelwise,
                "data_format": self.data_format,
            }
        )
        return config


def serialize_weight_options(layer, names):
    """Config entries for `<name>_initializer/_regularizer/_constraint` of each parameter."""
    config = {}
    for name in names:
        config[f"{name}_initializer"] = keras.initializers.serialize(getattr(layer, f"{name}_initializer"))
        config[f"{name}_regularizer"] = keras.regularizers.serialize(getattr(layer, f"{name}_regularizer"))
        config[f"{name}_constraint"] = keras.constraints.serialize(getattr(layer, f"{name}_constraint"))
    return config


def set_weight_options(layer, name, initializer, regularizer, constraint):
    """Stores `<name>_initializer/_regularizer/_constraint`, resolved through Keras."""
    setattr(layer, f"{name}_initializer", keras.initializers.get(initializer))
    setattr(layer, f"{name}_regularizer", keras.regularizers.get(regularizer))
    setattr(layer, f"{name}_constraint", keras.constraints.get(constraint))
