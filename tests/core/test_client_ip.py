"""The client's address that rate limits and the audit log use."""

import pytest
from django.test import RequestFactory

from dangjian.core.middleware import client_ip


@pytest.mark.parametrize(
    ("trusted", "forwarded", "address"),
    [
        (False, "", "198.51.100.7"),
        (False, "203.0.113.9", "198.51.100.7"),  # a header from nobody we trust counts for nothing
        (True, "203.0.113.9", "203.0.113.9"),  # what our proxy saw
        (True, "10.0.0.1, 203.0.113.9", "203.0.113.9"),  # the client wrote the first one itself
        (True, "", "198.51.100.7"),
    ],
)
def test_client_ip(settings, trusted, forwarded, address):
    settings.TRUST_X_FORWARDED_FOR = trusted
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7", **headers)
    assert client_ip(request) == address
