"""Image classification tasks: uint8 images -> per-channel standardized float32.

| task | TFDS | splits (train / validation / test) | input | mean | std | train augmentation |
|---|---|---|---|---|---|---|
| `mnist` | `mnist` 3.0.1 | 54,000 / 6,000 (every 10th of train) / 10,000 | (28, 28, 1) | 0.1307 | 0.3081 | none |
| `fashion_mnist` | `fashion_mnist` 3.0.1 | 54,000 / 6,000 / 10,000 | (28, 28, 1) | 0.2860 | 0.3530 | none |
| `cifar10` | `cifar10` 3.0.2 | 45,000 / 5,000 / 10,000 | (32, 32, 3) | 0.4914, 0.4822, 0.4465 | 0.2470, 0.2435, 0.2616 | 4-px zero pad + 32×32 crop, random flip |
| `cifar100` | `cifar100` 3.0.2 (fine labels) | 45,000 / 5,000 / 10,000 | (32, 32, 3) | 0.5071, 0.4865, 0.4409 | 0.2673, 0.2564, 0.2762 | 4-px zero pad + 32×32 crop, random flip |

Mean and std are per-channel statistics of the full TFDS train split scaled to `[0, 1]`, the values
torchvision examples and timm use. For CIFAR they are the true pixel std; the often copied
`(0.2023, 0.1994, 0.2010)` is a mean of per-image stds and smaller. Digits are not augmented: a flipped
digit is a different symbol. The CIFAR recipe (zero padding of 4 pixels, random 32×32 crop, horizontal flip
with p=0.5) is the one of He et al. 2016, §4.2.

The augmentation is a set of options (`Task.replace(...)`, or a sweep's `task_kwargs`): `crop_padding`,
`pad_mode` ("constant": black, He et al.; "reflect": airbench's mirrored border) and `flip` ("random": each
image with p=0.5 every epoch; "alternating": airbench's scheme, a random half of the images flipped in even
epochs and the other half in odd ones, so every image is seen both ways in any two consecutive epochs; the
half is drawn from the run's seed, so that seeds differ in every source of randomness).
`validation_every=None` trains on the whole TFDS train split (no validation), for final checkpoints.

Pipeline: decoded uint8 images are cached (4× smaller than float32), shuffled, batched, augmented on the
uint8 batch (padding is black, as in the torchvision recipe) and normalized per batch by the task's
`ImageNormalization` layer, the `preprocessor`.
"""

import tensorflow as tf

from relu_zoo.tasks.base import AUTOTUNE, Task, TaskSpec, register_task
from relu_zoo.tasks.preprocessing import ImageNormalization

AUGMENTATIONS = (None, "crop_flip")
PAD_MODES = ("constant", "reflect")
FLIPS = ("random", "alternating")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# CIFAR-100 fine label names in label order (the dataset's meta file; alphabetical).
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)


def random_crop_flip(images, seed, padding=4, pad_mode="constant", flip="random", epoch=None, index=None,
                     run_seed=0):
    """Per-image random crop of the padded batch and horizontal flip, stateless.

    Args:
        images: `(batch, height, width, channels)` tensor.
        seed: Shape `(2,)` integer seed; the same seed gives the same crops and flips.
        padding: Pixels of padding on every side; offsets are uniform in `[0, 2 * padding]`.
        pad_mode: "constant" (zeros) or "reflect" (the border mirrored, without repeating the edge pixel).
        flip: "random" (each image with p=0.5, from `seed`) or "alternating": image `index` is flipped iff
            its coin (from `index` and `run_seed`) differs from the parity of `epoch`.
        epoch, index, run_seed: For "alternating": the epoch (int tensor), each image's position in the
            unshuffled training set (`(batch,)` int64) and the run's seed (an int >= 0).

    Returns:
        Tensor of the shape and dtype of `images`.
    """
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]], mode=pad_mode.upper())
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3)
    dy = tf.random.stateless_uniform([batch], seeds[0], 0, 2 * padding + 1, dtype=tf.int32)
    dx = tf.random.stateless_uniform([batch], seeds[1], 0, 2 * padding + 1, dtype=tf.int32)
    # Gathers instead of a per-image map: one vectorized op per axis for the whole batch.
    rows = dy[:, None] + tf.range(height)[None, :]
    cols = dx[:, None] + tf.range(width)[None, :]
    crops = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
    if flip == "alternating":
        mirrored = tf.not_equal(alternating_coin(index, run_seed), tf.cast(epoch % 2, tf.int64))
    else:
        mirrored = tf.random.stateless_uniform([batch], seeds[2]) < 0.5
    return tf.where(mirrored[:, None, None, None], tf.reverse(crops, axis=[2]), crops)


def alternating_coin(index, run_seed=0):
    """A 0/1 coin per training-set position and run seed: a fingerprint of `"seed:position"` modulo 2.

    The same in every epoch of a run, so that "alternating" flips each image in every other epoch; a new
    draw for every run seed, so that seeds share no randomness. (The parity of a keyed `index_shuffle`, the
    obvious choice, hardly depends on its key: it gives the same half for every seed.)
    """
    keys = tf.strings.join([tf.strings.as_string(tf.cast(run_seed, tf.int64)), tf.strings.as_string(index)], ":")
    return tf.strings.to_hash_bucket_fast(keys, 2)


class ImageTask(Task):
    """A TFDS image classification dataset with `image` (uint8) and `label` features.

    Args:
        name, tfds_name, class_names, tfds_splits, validation_every, description: See `Task`.
        image_shape: `(height, width, channels)` of every image.
        mean: Per-channel mean of the train images scaled to `[0, 1]`.
        std: Per-channel standard deviation of the same.
        augmentation: `None`, or `"crop_flip"` (pad, random crop, horizontal flip); it is on by default
            for tasks that define one.
        crop_padding: Padding in pixels for `"crop_flip"`.
        pad_mode: "constant" (black border) or "reflect" (mirrored border) for `"crop_flip"`.
        flip: "random" or "alternating" (see the module docstring) for `"crop_flip"`.
    """

    modality = "image"

    def __init__(self, name, tfds_name, class_names, *, image_shape, mean, std, augmentation=None,
                 crop_padding=4, pad_mode="constant", flip="random", **kwargs):
        super().__init__(name, tfds_name, class_names, **kwargs)
        if augmentation not in AUGMENTATIONS:
            raise ValueError(f"`augmentation` must be one of {AUGMENTATIONS}. Received: augmentation={augmentation!r}")
        if len(tuple(image_shape)) != 3:
            raise ValueError(f"`image_shape` must be (height, width, channels). Received: image_shape={image_shape}")
        self.image_shape = tuple(image_shape)
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.augmentation = augmentation
        self.crop_padding = crop_padding
        if pad_mode not in PAD_MODES:
            raise ValueError(f"`pad_mode` must be one of {PAD_MODES}. Received: pad_mode={pad_mode!r}")
        if flip not in FLIPS:
            raise ValueError(f"`flip` must be one of {FLIPS}. Received: flip={flip!r}")
        self.pad_mode = pad_mode
        self.flip = flip
        channels = self.image_shape[-1]
        if not len(self.mean) == len(self.std) == channels or not all(s > 0 for s in self.std):
            raise ValueError(f"`mean` and `std` need one value per channel ({channels}) and std > 0. "
                             f"Received: mean={mean}, std={std}")
        if not (isinstance(crop_padding, int) and crop_padding >= 0):
            raise ValueError(f"`crop_padding` must be an integer >= 0. Received: crop_padding={crop_padding!r}")

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "mean": self.mean, "std": self.std,
                "augmentation": self.augmentation, "crop_padding": self.crop_padding, "pad_mode": self.pad_mode,
                "flip": self.flip}

    @property
    def spec(self):
        return TaskSpec(name=self.name, modality="image", input_shape=self.image_shape, input_dtype="float32",
                        num_classes=len(self.class_names), class_names=self.class_names)

    @property
    def raw_input_spec(self):
        return tf.TensorSpec(self.image_shape, tf.uint8, name="image")

    def select(self, example):
        return example["image"], tf.cast(example["label"], tf.int32)

    def build_preprocessor(self, raw_train):
        return ImageNormalization(self.mean, self.std, dtype="float32", name=f"{self.name}_normalization")

    def finalize(self, ds, preprocessor):
        return ds.map(lambda x, y: (preprocessor(x), y), num_parallel_calls=AUTOTUNE)

    def default_augment(self):
        return self.augmentation is not None

    def augment_batch(self, x, seed, epoch=None, index=None, run_seed=0):
        if self.augmentation is None:
            return super().augment_batch(x, seed, epoch, index, run_seed)
        # Without an epoch (TaskData.train, re-iterated by fit) alternation has no parity to follow.
        flip = self.flip if epoch is not None else "random"
        return random_crop_flip(x, seed, self.crop_padding, self.pad_mode, flip, epoch, index, run_seed)


register_task(ImageTask(
    "mnist", "mnist", tuple(str(d) for d in range(10)), image_shape=(28, 28, 1), mean=(0.1307,), std=(0.3081,),
    description="handwritten digits 0-9"))
register_task(ImageTask(
    "fashion_mnist", "fashion_mnist",
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    image_shape=(28, 28, 1), mean=(0.2860,), std=(0.3530,), description="Zalando clothing, 10 classes"))
register_task(ImageTask(
    "cifar10", "cifar10", CIFAR10_CLASSES, image_shape=(32, 32, 3), mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616), augmentation="crop_flip", description="32x32 colour photos, 10 classes"))
register_task(ImageTask(
    "cifar100", "cifar100", CIFAR100_CLASSES, image_shape=(32, 32, 3), mean=(0.5071, 0.4865, 0.4409),
    std=(0.2673, 0.2564, 0.2762), augmentation="crop_flip", description="32x32 colour photos, 100 fine classes"))
