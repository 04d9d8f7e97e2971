"""tw_keras: TWNet (Tamed Warping Network) for semantic video segmentation in TF2/Keras 3.

Importing the package is cheap: no TensorFlow import happens here, so the data
preparation workers (which only need PyAV, NumPy and OpenCV) start fast.
"""

__version__ = "0.1.0"
