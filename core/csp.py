"""The Content-Security-Policy of every page: django-csp's middleware, with the origin of the S3 images added.

Entries' images are presigned S3 URLs. Their origin is the S3 endpoint of the settings (MinIO, or any
S3-compatible server; storage connections use it too, users never name hosts), or AWS itself, where the host is
the bucket's or the region's: any `*.amazonaws.com`. It is read per response, not once at start-up, because the
settings may name another endpoint at run time (the tests' S3 server does).
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

AWS_S3_ORIGINS = ("https://*.amazonaws.com",)


def s3_image_origins() -> tuple[str, ...]:
    endpoint = settings.AWS_S3_ENDPOINT_URL
    if not endpoint:
        return AWS_S3_ORIGINS
    parts = urlsplit(endpoint)
    host = parts.netloc.rpartition("@")[2]  # never a user:password of the URL in a header
    return (f"{parts.scheme}://{host}",)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        update = dict(parts.update or {})
        update["img-src"] = [*update.get("img-src", ()), *s3_image_origins()]
        parts.update = update
        return parts
