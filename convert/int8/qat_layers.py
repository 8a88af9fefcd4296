"""The Keras layers of the int8 simulation used by quantisation-aware fine-tuning (convert/int8/qat.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentilite.core.tf_import import import_keras, import_tensorflow

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

keras = import_keras("conversion")
tf = import_tensorflow("conversion")


class _Observing(keras.layers.Layer):
    """A quantising layer that can be switched to float, so that ranges are observed on the
    float network, as the converter's calibrator sees it."""

    def build(self, input_shape: Any) -> None:
        self.observing = self.add_weight(shape=(), initializer="zeros", trainable=False, name="observing")

    def start_observing(self) -> None:
        self.observing.assign(1.0)

    def stop_observing(self) -> None:
        self.observing.assign(0.0)


class FakeQuant(_Observing):
    """8-bit asymmetric fake quantisation of a tensor with a per-tensor [lo, hi] range (zero kept
    exactly representable, as TFLite does). While observing, it passes its input through and
    widens the range to the input's min/max instead."""

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self.lo = self.add_weight(shape=(), initializer="zeros", trainable=False, name="lo")
        self.hi = self.add_weight(shape=(), initializer="zeros", trainable=False, name="hi")

    def compute_output_spec(self, x: tf.Tensor) -> Any:
        return keras.KerasTensor(x.shape, x.dtype)

    def start_observing(self) -> None:
        self.lo.assign(float("inf"))
        self.hi.assign(float("-inf"))
        super().start_observing()

    def call(self, x: tf.Tensor) -> Any:
        observing = self.observing > 0.5
        lo = tf.where(observing, tf.minimum(self.lo, tf.reduce_min(x)), self.lo)
        hi = tf.where(observing, tf.maximum(self.hi, tf.reduce_max(x)), self.hi)
        self.lo.assign(lo)
        self.hi.assign(hi)
        lo_q = tf.stop_gradient(tf.minimum(lo, 0.0))
        hi_q = tf.stop_gradient(tf.maximum(hi, lo_q + 1e-6))
        q = tf.quantization.fake_quant_with_min_max_vars(x, lo_q, hi_q, num_bits=8, narrow_range=False)
        return tf.where(observing, x, q)


class FoldedQuantWeights(_Observing):
    """A Conv2D / DepthwiseConv2D / Dense computed as the int8 converter will: BatchNormalization
    (inference statistics) folded into kernel and bias, the kernel fake-quantised per output
    channel (symmetric, narrow range: scale = max |w| / 127). Shares the wrapped layers' weights.
    While observing, the folded kernel stays float (the converter calibrates the float network)."""

    def __init__(self, layer: keras.Layer, bn: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner, self.bn = layer, bn
        self.depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)

    def compute_output_spec(self, x: tf.Tensor) -> Any:
        return self.inner.compute_output_spec(x)

    def _folded(self) -> tuple[Any, Any]:
        layer, bn = self.inner, self.bn
        k = layer.kernel
        b = layer.bias if getattr(layer, "use_bias", False) else None
        if self.depthwise:  # (kh, kw, in, mult) -> output channels in * mult
            kh, kw, cin, mult = k.shape
            k = tf.reshape(k, (kh, kw, cin * mult))
        if bn is not None:
            scale = tf.math.rsqrt(bn.moving_variance + bn.epsilon)
            if bn.scale:
                scale = scale * bn.gamma
            k = k * scale
            shift = -bn.moving_mean * scale + (bn.beta if bn.center else 0.0)
            b = shift if b is None else b * scale + shift
        flat = tf.reshape(k, (-1, k.shape[-1]))
        m = tf.stop_gradient(tf.maximum(tf.reduce_max(tf.abs(flat), axis=0), 1e-8))
        kq = tf.reshape(
            tf.quantization.fake_quant_with_min_max_vars_per_channel(flat, -m, m, num_bits=8, narrow_range=True),
            k.shape,
        )
        kq = tf.where(self.observing > 0.5, k, kq)
        if self.depthwise:
            kq = tf.reshape(kq, layer.kernel.shape)
        return kq, b

    def call(self, x: tf.Tensor) -> Any:
        layer = self.inner
        kq, b = self._folded()
        if isinstance(layer, keras.layers.Dense):
            y = tf.matmul(x, kq)
        elif self.depthwise:
            y = keras.ops.depthwise_conv(
                x,
                kq,
                strides=layer.strides,
                padding=layer.padding,
                data_format=layer.data_format,
                dilation_rate=layer.dilation_rate,
            )
        else:
            y = layer.convolution_op(x, kq)
        if b is not None:
            y = y + b
        return layer.activation(y) if layer.activation is not None else y
