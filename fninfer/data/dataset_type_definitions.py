"""`fninfer.data.dataset_type_definitions`, mirroring `azureml.data.dataset_type_definitions`: the `header` options
of `Dataset.Tabular.from_delimited_files`."""

from enum import Enum


class PromoteHeadersBehavior(Enum):
    NO_HEADERS = 0  #: no row is a header: columns are Column1, Column2, ...
    ONLY_FIRST_FILE_HAS_HEADERS = 1  #: the first file's first row names the columns; other files are all rows
    COMBINE_ALL_FILES_HEADERS = 2  #: each file's first row names its columns; columns of the same name combine
    ALL_FILES_HAVE_SAME_HEADERS = 3  #: the first file's first row names the columns; other files' first rows go


__all__ = ["PromoteHeadersBehavior"]
