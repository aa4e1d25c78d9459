"""Training data loaders with bad-input accounting, one module per modality.

Every loader yields clean examples and counts what it skipped, by reason, in a `SkipCounter`; the script logs the
summary once. A loader raises only when nothing usable is left, and then says what was wrong.

- `common`: `SkipCounter`, the shared source choice (`open_hub_dataset`, `stream_dataset`, `finish`);
- `images`: `load_images` (HF dataset, image folder, embedded abstract art) and the image helpers;
- `poems`: `load_poems` (HF dataset, .jsonl/.txt file, fortunes-zh) and poem cleaning;
- `midi`: `load_midi` (HF dataset, MIDI folder, music21's Bach chorales) and MIDI checks.

Every name is importable from `neuroart.training.data` as before.
"""

from .common import SkipCounter, finish, open_hub_dataset, stream_dataset
from .images import (
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    images_to_tensor,
    load_images,
    open_image,
    scan_image_folder,
    square_resize,
    to_rgb,
)
from .midi import (
    MAX_MIDI_BYTES,
    MAX_MIDI_NOTES,
    MIDI_EXTENSIONS,
    TEMPO_RANGE_QPM,
    bach_chorales,
    check_midi,
    default_cache_dir,
    load_midi,
    midi_bytes,
)
from .poems import (
    FORTUNES_DIR,
    FORTUNES_FILES,
    MAX_POEM_CHARS,
    clean_poem_record,
    clean_poem_text,
    load_poems,
    parse_fortunes,
)

__all__ = [
    "FORTUNES_DIR", "FORTUNES_FILES", "IMAGE_EXTENSIONS", "MAX_IMAGE_PIXELS", "MAX_MIDI_BYTES", "MAX_MIDI_NOTES",
    "MAX_POEM_CHARS", "MIDI_EXTENSIONS", "TEMPO_RANGE_QPM", "SkipCounter", "bach_chorales", "check_midi",
    "clean_poem_record", "clean_poem_text", "default_cache_dir", "finish", "images_to_tensor", "load_images",
    "load_midi", "load_poems", "midi_bytes", "open_hub_dataset", "open_image", "parse_fortunes", "scan_image_folder",
    "square_resize", "stream_dataset", "to_rgb",
]
