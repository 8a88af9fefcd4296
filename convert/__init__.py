"""convert/: Keras -> TFLite in every useful variant, each validated against its Keras parent."""
