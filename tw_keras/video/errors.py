"""Bad video input (`VideoError`), one of the project's input errors (`tw_keras.errors`)."""

from tw_keras.errors import VideoError  # pylint: disable=unused-import
