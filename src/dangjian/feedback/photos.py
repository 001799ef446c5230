"""Photos from the public: checked to be images and re-encoded, so nothing but the pixels is kept
(no GPS position, camera or editing data in EXIF/XMP, no payload appended to the file)."""

import io
import secrets
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from dangjian.core.errors import ValidationFailed

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb stops here, before decoding
MAX_SIDE = 2560  # larger photos are scaled down: a phone's 4000 px shot says no more
MAX_PHOTOS = 4
FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}


@dataclass
class CleanPhoto:
    content: ContentFile
    width: int
    height: int


def clean_photo(upload, field: str = "photos") -> CleanPhoto:
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BYTES:
        raise ValidationFailed(
            _("A photo may be at most %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)},
            code="file_too_large",
            field=field,
        )
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValidationFailed(
            _("A photo may be at most %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)},
            code="file_too_large",
            field=field,
        )
    not_an_image = ValidationFailed(
        _("“%(name)s” is not a photo: send JPEG, PNG or WebP images.")
        % {"name": str(getattr(upload, "name", "") or "")[:60]},
        code="not_an_image",
        field=field,
    )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise not_an_image
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationFailed(
                    _("The photo is too large in pixels."), code="image_too_large", field=field
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            image = ImageOps.exif_transpose(image)  # keep the orientation, drop the EXIF
            has_alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            if has_alpha:
                image.save(out, format="PNG", optimize=True)
                ext = "png"
            else:
                image.save(out, format="JPEG", quality=85, optimize=True)
                ext = "jpg"
            width, height = image.size
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise not_an_image from None
    name = f"{secrets.token_hex(12)}.{ext}"
    return CleanPhoto(ContentFile(out.getvalue(), name=name), width, height)
