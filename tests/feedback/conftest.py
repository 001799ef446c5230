"""Desks and requests for the tests of requests from the public."""

import pytest

from dangjian.feedback import services
from tests.core.test_channels import gateway, smtp  # noqa: F401  (a local SMTP server, an SMS gateway)


@pytest.fixture
def desks(tree, people, admin):
    a = services.save_desk(
        actor=admin, organization=tree["branch_a"], code="dongjie", place="东街社区"
    )
    b = services.save_desk(
        actor=admin, organization=tree["branch_b"], code="xijie", place="西街社区"
    )
    town = services.save_desk(
        actor=admin, organization=tree["town"], code="chengguan", place="城关镇"
    )
    return {"a": a, "b": b, "town": town}


@pytest.fixture
def submit(desks):
    """Submit through the service as the public desk does; returns (request, check code)."""

    def go(desk="a", **values):
        values.setdefault("category", "help")
        values.setdefault("text", "东街小区的路灯坏了好几天，晚上出行很不方便。")
        return services.submit(desk=desks[desk], ip=values.pop("ip", "10.0.0.1"), **values)

    return go


@pytest.fixture
def png_bytes():
    """A real photo: a JPEG with EXIF data (camera and GPS tags) that the upload must drop."""
    import io

    from PIL import Image

    image = Image.new("RGB", (320, 240), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()
