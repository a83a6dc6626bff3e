"""TFDS tasks: one registry entry per dataset, each giving ready `tf.data` pipelines and a model input spec.

    from relu_zoo import tasks
    tasks.list_tasks()                       # ['ag_news_subset', 'cifar10', ..., 'spoken_digit']
    task = tasks.get("mnist")
    task.spec                                # TaskSpec: modality, input shape/dtype, classes (no data loaded)
    data = task.load(batch_size=128, seed=0, max_examples={"train": 5000})
    model.fit(data.train, validation_data=data.validation)
    raw_model = data.with_preprocessing(model)   # takes uint8 images / strings / int waveforms

| task | modality | splits (train / validation / test) | model input | preprocessing |
|---|---|---|---|---|
| `mnist` | image | 54,000 / 6,000 / 10,000 | (28, 28, 1) float32 | /255, mean 0.1307, std 0.3081 |
| `fashion_mnist` | image | 54,000 / 6,000 / 10,000 | (28, 28, 1) float32 | /255, mean 0.2860, std 0.3530 |
| `cifar10` | image | 45,000 / 5,000 / 10,000 | (32, 32, 3) float32 | /255, per-channel mean/std; train: pad-crop + flip |
| `cifar100` | image | 45,000 / 5,000 / 10,000 | (32, 32, 3) float32 | /255, per-channel mean/std; train: pad-crop + flip |
| `imdb_reviews` | text | 22,500 / 2,500 / 25,000 | (256,) int64 | TextVectorization, 20k tokens |
| `ag_news_subset` | text | 108,000 / 12,000 / 7,600 | (64,) int64 | TextVectorization, 20k tokens, title + description |
| `glue/sst2` | text | 60,615 / 6,734 / 872 | (64,) int64 | TextVectorization, 10k tokens; test = TFDS validation |
| `spoken_digit` | speech | 2,025 / 225 / 250 | (98, 40, 1) float32 | 8 kHz, 1 s, log-mel 25/10 ms; test = recordings 0-4 |
| `speech_commands` | speech | 85,511 / 10,102 / 4,890 | (98, 40, 1) float32 | 16 kHz, 1 s, log-mel 25/10 ms |
| `imdb_bytes` | language | reviews: 67,500 / 7,500 / 25,000 (train + unsupervised / test) | (128,) int32 | bytes, windows of 128; labels: the next bytes |

Validation is every 10th example of the TFDS train split where the dataset has no validation split. Details
per modality: `relu_zoo.tasks.image`, `.text`, `.speech`, `.language`; the pipeline order: `relu_zoo.tasks.base`.

Data is read from `data_dir`, else `$TFDS_DATA_DIR`, else `~/tensorflow_datasets`. A dataset that is not
there is downloaded and prepared by TFDS, with its progress bar, when the hosts it downloads from answer
(checked in a few seconds); with `load(download=False)` or no network it raises `DatasetNotFoundError` at
once, naming the dataset, the folder searched and how to prepare it on another machine and copy it.
"""

from relu_zoo.tasks.base import MODALITIES, SPLITS, Task, TaskData, TaskSpec, get, list_tasks, register_task
from relu_zoo.tasks.image import ImageTask
from relu_zoo.tasks.language import LanguageTask
from relu_zoo.tasks.preprocessing import ImageNormalization, LogMelSpectrogram, Waveform, standardize_text
from relu_zoo.tasks.speech import SpeechTask, SpokenDigitTask
from relu_zoo.tasks.text import TextTask
from relu_zoo.tasks.tfds_data import DatasetNotFoundError, resolve_data_dir

__all__ = [
    "MODALITIES",
    "SPLITS",
    "DatasetNotFoundError",
    "ImageNormalization",
    "ImageTask",
    "LanguageTask",
    "LogMelSpectrogram",
    "SpeechTask",
    "SpokenDigitTask",
    "Task",
    "TaskData",
    "TaskSpec",
    "TextTask",
    "Waveform",
    "get",
    "list_tasks",
    "register_task",
    "resolve_data_dir",
    "standardize_text",
]
