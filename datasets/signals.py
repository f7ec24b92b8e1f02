"""What the datasets tell other apps, which they may not import (labeling builds on datasets)."""

from django.dispatch import Signal

# A label of a dataset was renamed (`new_name` is the name it now has, or the label it was merged into) or
# deleted (`new_name` None); sent inside the transaction, under the dataset's lock, with `dataset_id`,
# `old_name` and `new_name`.
label_changed = Signal()
