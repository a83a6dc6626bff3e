"""Exporting a model to deployment formats, and running the export with the format's own runtime.

    from relu_zoo import pretrained
    model = pretrained.load("cnn_prelu.mnist", compile=False)
    path = deploy.export_model(model, format="tflite", path="cnn_prelu.tflite")
    run = deploy.runtime(path, "tflite")          # numpy batch in -> numpy logits out, via LiteRT
    deploy.parity(model, run, x)                  # {"examples", "top1_agreement", "max_abs_diff"}

| format | written by (Keras `Model.export`) | path | runtime | extra packages |
|---|---|---|---|---|
| `saved_model` | `tf_saved_model` | a folder | `tf.saved_model.load` | – |
| `tflite` | `litert` | `.tflite` file | `ai_edge_litert` (else `tf.lite`) | `ai-edge-litert` |
| `onnx` | `onnx` (through tf2onnx) | `.onnx` file | `onnxruntime` | `tf2onnx onnx onnxruntime` |
| `openvino` | `openvino` | `.xml` (+ `.bin` beside it) | `openvino` | `openvino` |

The exported graph is the model's forward pass (inference mode) on its model inputs, as `model.keras` takes
them (preprocessed: `preprocessor.keras` stays in Python). It is traced inside
`relu_zoo.activations.export_formulation()`, so PReLU becomes one builtin PRELU op in TFLite instead of
GREATER + SELECT + MUL, with identical values (LeakyReLU and the inference form of RReLU already map to
LEAKY_RELU). `pip install "relu_zoo[export]"` installs every runtime.

On Keras' other backends only what was checked to write and run is allowed (`BACKENDS`): `saved_model` from
JAX (jax2tf). The others raise one `ValueError` naming the backend and the fix: a checkpoint is the same
`.keras` file on every backend, so `KERAS_BACKEND=tensorflow` exports it to any format.

Recurrent layers are unrolled for OpenVINO (`unroll_recurrent`, see `unrolled()`): its TensorFlow front end has
no TensorList conversion for Keras' while loop. Unrolling needs a fixed sequence length (the `rnn` checkpoints
take 256 steps). ONNX keeps the loop: tf2onnx converts it to an ONNX Loop that agrees with Keras.
"""

import contextlib
import io
import os
import shutil
import warnings
from pathlib import Path

from relu_zoo import _deprecation

FORMATS = {  # our name: (Keras' format name, file suffix or None for a folder, modules the format needs)
    "saved_model": ("tf_saved_model", None, ()),
    "tflite": ("litert", ".tflite", ()),
    "onnx": ("onnx", ".onnx", ("tf2onnx", "onnx", "onnxruntime")),
    "openvino": ("openvino", ".xml", ("openvino",)),
}


# The formats Keras 3.15 writes from each backend, as checked: LiteRT needs TensorFlow (or the separate
# litert-torch), the ONNX and OpenVINO paths here are TensorFlow's converters, and PyTorch's `tf_saved_model`
# export fails in torch.export on Keras' dynamic batch dimension.
BACKENDS = {"saved_model": ("tensorflow", "jax"), "tflite": ("tensorflow",), "onnx": ("tensorflow",),
            "openvino": ("tensorflow",)}


def check_backend(format):
    """Raises a ValueError naming the backend and the fix where Keras' backend cannot export to `format`."""
    import keras

    backend = keras.backend.backend()
    if backend not in BACKENDS[check_format(format)]:
        raise ValueError(f"Exporting to {format} is not supported on Keras' {backend} backend (it is on "
                         f"{', '.join(BACKENDS[format])}). Run the export with KERAS_BACKEND=tensorflow: "
                         "the checkpoint loads there unchanged.")


def check_format(format):
    if format not in FORMATS:
        from relu_zoo.names import did_you_mean

        raise ValueError(f"Unknown export format {format!r}.{did_you_mean(format, list(FORMATS))} "
                         f"Valid formats: {', '.join(FORMATS)}. Received: format={format!r}")
    return format


def _require(format):
    import importlib.util

    missing = [m for m in FORMATS[format][2] if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"Exporting to {format} needs {', '.join(missing)}: pip install \"relu_zoo[export]\"")


def default_path(name, format):
    """`<name>.tflite`, `<name>.onnx`, `<name>.xml`, or the folder `<name>_saved_model`."""
    suffix = FORMATS[check_format(format)][1]
    return Path(f"{name}{suffix}" if suffix else f"{name}_saved_model")


def export_model(model, format, path, verbose=False, unroll_recurrent=None):
    """Writes `model` in a deployment format and returns the written path.

    Args:
        model: A Keras model (e.g. `pretrained.load(name, compile=False)`).
        format: One of `FORMATS`: "saved_model", "tflite", "onnx", "openvino".
        path: Where to write: a folder for saved_model, else a file (`.tflite`, `.onnx`, `.xml`; a missing
            suffix is added). An existing export there is replaced.
        verbose: Let Keras and the converters print what they do (default: quiet).
        unroll_recurrent: Export `unrolled(model)` (the same model with its recurrent loops written out step by
            step) instead of `model`. Default: True for "openvino", whose converter cannot handle the loop,
            False for the others (their converters take the loop, and the file stays small).
            A model without recurrent layers is exported as it is either way.
    """
    import numpy as np

    from relu_zoo import activations

    keras_format, suffix, _ = FORMATS[check_format(format)]
    check_backend(format)
    _require(format)
    path = Path(path)
    if suffix and path.suffix != suffix:
        path = path.with_name(path.name + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "saved_model" and path.exists():
        shutil.rmtree(path)
    if unroll_recurrent is None:
        unroll_recurrent = format == "openvino"
    if unroll_recurrent and _recurrent_layers(model):
        model = unrolled(model)
    with activations.export_formulation(), _quiet(not verbose):
        # Keras' ONNX exporter refuses a model that was never called (a freshly loaded one): call it once.
        model([np.zeros((1, *x.shape[1:]), x.dtype) for x in model.inputs])
        if format == "tflite":
            _export_tflite(model, path, verbose)
        else:
            model.export(os.fspath(path), format=keras_format, verbose=verbose)
    return path


def _recurrent_layers(model):
    """The `keras.layers.RNN` layers of `model`, inside `Bidirectional` wrappers and nested models too."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, keras.layers.RNN):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += _recurrent_layers(layer)
    return found


def unrolled(model):
    """A copy of `model` (Sequential or functional) whose recurrent layers run unrolled, with the same weights.

    Rebuilt from the model's config with `unroll=True` in every recurrent layer's config (`Bidirectional` and
    nested models included): the loop becomes one cell call per time step and the mask per-step selects, which
    converters without loop support take. Needs a fixed number of time steps; `model` is not changed.

    One difference, at masked steps only: Keras' unrolled loop zeroes the masked outputs of a `go_backwards`
    layer (as `Bidirectional` asks) with the mask in forward order against outputs in reversed order (keras
    3.15, `backend/tensorflow/rnn.py`), zeroing real steps. The copy's backward layers therefore skip that
    zeroing (`zero_output_for_mask=False`): their outputs at unmasked steps equal the loop's, and at masked steps
    they repeat the last unmasked output instead of 0, which mask-aware layers downstream (the `rnn` model's
    poolings) never read.
    """
    import keras

    def unroll(config):
        if isinstance(config, dict):
            return {k: (True if k == "unroll" else unroll(v)) for k, v in config.items()}
        if isinstance(config, list):
            return [unroll(v) for v in config]
        return config

    copy = keras.saving.deserialize_keras_object(unroll(keras.saving.serialize_keras_object(model)))
    for layer in _recurrent_layers(copy):
        if layer.go_backwards:
            layer.zero_output_for_mask = False
    copy.set_weights(model.get_weights())
    return copy


def _export_tflite(model, path, verbose):
    """Builtin TFLite ops only, so the file runs on plain LiteRT (Keras also allows TensorFlow "Flex" ops,
    which need a runtime linked with TensorFlow). Recurrent layers lower to a builtin WHILE only with a
    static batch size: those files take one example at a time (`runtime()` loops over a batch)."""
    import tensorflow as tf

    builtins = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    try:
        model.export(os.fspath(path), format="litert", verbose=verbose, target_spec=builtins)
    except Exception as e:  # noqa: BLE001 - the converter raises ConverterError subclasses of Exception only
        if "static" not in str(e) and "TensorList" not in str(e):
            raise
        signature = [tf.TensorSpec((1, *spec.shape[1:]), spec.dtype) for spec in model.inputs]
        model.export(os.fspath(path), format="litert", verbose=verbose, target_spec=builtins,
                     input_signature=signature)


@contextlib.contextmanager
def _quiet(enabled):
    """Silences the converters' Python output and warnings (tf2onnx logs every pass, numpy deprecations)."""
    if not enabled:
        yield
        return
    import logging

    loggers = [logging.getLogger(n) for n in ("tf2onnx", "absl", "tensorflow")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def file_size(path):
    """Bytes on disk of an export: the folder's files, or the file (+ OpenVINO's `.bin` weights)."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    size = path.stat().st_size
    if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        size += path.with_suffix(".bin").stat().st_size
    return size


def runtime(path, format):
    """A function `batch (numpy) -> outputs (numpy)` running the export at `path` with its own runtime.

    Every runtime computes in float32, the precision of the exported weights. (OpenVINO's CPU plugin would
    otherwise infer in bfloat16 on CPUs that compute it natively, AVX-512 BF16 or AMX: logits 0.09 off Keras'
    on such a CPU. Deployments that want that speed set its `INFERENCE_PRECISION_HINT` themselves.)
    """
    import numpy as np

    check_format(format)
    path = os.fspath(path)
    if format == "saved_model":
        import tensorflow as tf

        # Kept referenced: `serve` alone would lose its variables. Quiet: TensorFlow warns that functions with
        # custom gradients (a JAX export's) cannot be differentiated once loaded; serving takes none.
        with _quiet(True):
            loaded = tf.saved_model.load(path)
        spec = loaded.serve.input_signature[0]

        def run(x):
            return np.asarray(loaded.serve(tf.constant(np.asarray(x).astype(spec.dtype.as_numpy_dtype))))

        return run
    if format == "tflite":
        return _litert_runner(path)
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        entry = session.get_inputs()[0]
        dtype = np.dtype({"tensor(int32)": "int32", "tensor(int64)": "int64"}.get(entry.type, "float32"))
        return lambda x: session.run(None, {entry.name: np.asarray(x).astype(dtype, copy=False)})[0]
    import openvino

    compiled = openvino.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    dtype = compiled.inputs[0].get_element_type().to_dtype()
    return lambda x: np.asarray(compiled(np.asarray(x).astype(dtype, copy=False))[0])


def _litert_runner(path):
    import numpy as np

    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # tf.lite.Interpreter is deprecated (removed in TF 2.20+) but runs the same file
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    from relu_zoo._logs import filtered_stderr

    with filtered_stderr():  # LiteRT announces its XNNPACK delegate on stderr
        interpreter = Interpreter(model_path=path)
        interpreter.allocate_tensors()
    current = {"shape": None}

    def run(x):
        x = np.asarray(x)
        entry, = interpreter.get_input_details()
        if entry["shape_signature"][0] != -1 and len(x) != entry["shape"][0]:  # a static batch of one
            return np.concatenate([run(x[i:i + 1]) for i in range(len(x))])
        if current["shape"] != x.shape:  # the batch axis is dynamic in the file: resize once per shape
            interpreter.resize_tensor_input(entry["index"], x.shape)
            interpreter.allocate_tensors()
            current["shape"] = x.shape
        interpreter.set_tensor(entry["index"], x.astype(entry["dtype"], copy=False))
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()

    run.interpreter = interpreter
    return run


def parity(model, run, inputs, batch_size=100):
    """How closely an export (`run`, from `runtime()`) reproduces `model` on `inputs` (a numpy array).

    Returns `{"examples", "top1_agreement", "max_abs_diff"}`: the fraction of inputs whose arg-max output
    is the same, and the largest absolute difference of any output.
    """
    import numpy as np

    agree = 0
    diffs = []
    for start in range(0, len(inputs), batch_size):
        x = inputs[start:start + batch_size]
        expected = np.asarray(model.predict_on_batch(x))
        got = np.asarray(run(x)).reshape(expected.shape)
        agree += int(np.sum(np.argmax(expected, -1) == np.argmax(got, -1)))
        diffs.append(np.max(np.abs(expected.astype("float64") - got)))  # NaN propagates: np.max, not max()
    return {"examples": len(inputs), "top1_agreement": agree / len(inputs), "max_abs_diff": float(np.max(diffs))}


# Moved to relu_zoo.pretrained: the inputs come from a checkpoint's task, and deploy imports nothing of the zoo.
__getattr__ = _deprecation.moved(__name__, {"model_inputs": "relu_zoo.pretrained.model_inputs"})
