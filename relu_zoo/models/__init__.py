"""Reference model zoo: builders registered with `@register_model`, built with `create_model`.

    from relu_zoo.models import create_model
    model = create_model("cnn", task="mnist", activation="prelu")

Checkpoints of trained models live in the top-level `models/` folder
(see `relu_zoo.pretrained`); this package holds only code.
"""

from relu_zoo.models import airbench as _airbench  # noqa: F401  (registers "airbench")
from relu_zoo.models import cnn as _cnn  # noqa: F401  (registers "cnn", "cnn_small")
from relu_zoo.models import decoder as _decoder  # noqa: F401  (registers "decoder")
from relu_zoo.models import fasttext as _fasttext  # noqa: F401  (registers "fasttext")
from relu_zoo.models import mlp as _mlp  # noqa: F401  (registers "mlp")
from relu_zoo.models import rnn as _rnn  # noqa: F401  (registers "rnn", "relu_rnn")
from relu_zoo.models import transformer as _transformer  # noqa: F401  (registers "transformer")
from relu_zoo.models import wavecnn as _wavecnn  # noqa: F401  (registers "wavecnn")
from relu_zoo.models.common import RELU_FAMILY, kernel_initializer_for
from relu_zoo.models.registry import (check_activation, create_model, get_builder, list_models, model_modalities,
                                      register_model)
from relu_zoo.models.rnn import ReLURNNCell

__all__ = ["RELU_FAMILY", "ReLURNNCell", "check_activation", "create_model", "get_builder", "kernel_initializer_for",
           "list_models", "model_modalities", "register_model"]
