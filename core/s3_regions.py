"""The AWS region name rule (pure): checked when a storage connection is saved, so that a worker never meets a
region that boto3 refuses to build a client for (it raises at client build, inside the job)."""

import re

# A partition prefix (us, eu, ap, cn, ...), then GovCloud (-gov), the isolated partitions (-iso, -isob,
# -isoe, -isof) or the European Sovereign Cloud (eusc-de), a direction (east, southeast, central, ...) and a
# number: us-east-1, eu-central-2, ap-southeast-4, us-gov-west-1, cn-north-1, us-isob-east-1, eusc-de-east-1.
_REGION = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?|sc-[a-z]{2})?-[a-z]+-\d{1,2}")


def region_name_problem(region: str) -> str | None:
    """Why `region` is not an AWS region name, or None when it is one. "" is allowed: the server's default."""
    if region == "" or _REGION.fullmatch(region):
        return None
    return "not an AWS region name such as us-east-1 or eu-central-2"
