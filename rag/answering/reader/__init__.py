"""The extractive reader: trained on SQuAD (train.py), shipped as int8 ONNX (export.py), read at question time (model.py)."""
