"""Loading, validating, generating and writing MovieLens-style data."""

from kerasrec.data.load import ReadLimits, load_movies, load_ratings
from kerasrec.data.movie_data import MovieData
from kerasrec.data.sample import load_sample, make_sample, sample_path, write_sample
from kerasrec.data.write import write_parquet, write_workbook

__all__ = ["MovieData", "ReadLimits", "load_movies", "load_ratings", "load_sample", "make_sample",
           "sample_path", "write_parquet", "write_sample", "write_workbook"]
