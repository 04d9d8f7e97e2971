"""evaluation/timing: random inputs of the right shapes, a forward time, FLOP counting."""
from tw_keras import config as config_lib
from tw_keras.evaluation import timing
from tw_keras.model import twnet

TINY = config_lib.PRESETS["tiny"]


def test_timing_inputs_fit_the_models():
  variant = config_lib.VARIANTS["layer2_cfr_rga"]
  net = twnet.build(TINY, variant)
  image, context, motion, residual = timing.random_inputs(TINY, variant, 64, 96, batch=2)
  assert image.shape == (2, 64, 96, 3) and motion.shape == (2, 64, 96, 2) and residual.shape == (2, 64, 96, 3)
  assert tuple(context.shape) == tuple(net.per_frame(image)[variant.context_output].shape)
  assert timing.forward_seconds(net.nkfc, [image, context, motion, residual], repeats=2, warmup=1) > 0


def test_count_flops_of_one_convolution():
  import keras
  x = keras.Input((8, 8, 2))
  model = keras.Model(x, {"logits": keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(x)})
  assert timing.count_flops(model, [(1, 8, 8, 2)]) == 2 * 8 * 8 * 4 * 3 * 3 * 2  # 2 per multiply-add
