"""tw_keras: TWNet (Tamed Warping Network) in TensorFlow 2 / Keras 3. Metadata in setup.cfg."""
import setuptools

setuptools.setup()
