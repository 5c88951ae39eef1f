"""The transformer classifier: an alternative label stage that runs under ONNX Runtime.

A CheXbert-style model (the MiniLM-L6 encoder, one 4-way head per label of the
full set: blank, positive, negative, uncertain) is trained on silver labels
from the rule labeler, optionally overridden by gold, exported to ONNX,
quantized to int8, calibrated, and shipped as a folder ``models/<name>/`` with
a manifest. The modules, in the order a model is made and used:

``manifest``
    Class order, the manifest format, sha256 checks, the base model's path
    (standard library only).
``dataset``
    Reports -> a :mod:`datasets` training set with silver (and gold) targets.
``model``
    The PyTorch model (``train`` extra).
``train``
    Deterministic, resumable fine-tuning (``train`` extra).
``calibrate``
    Temperature or isotonic calibration per label, reliability figures.
``hybrid``
    The policy that combines rule labels with model probabilities (pure Python).
``export``
    ONNX export with a parity gate, int8 quantization with an agreement gate,
    calibration and the manifest (``train`` extra).
``session``
    Inference: ``tokenizers`` + ONNX Runtime + numpy only (``model`` extra).

Nothing here is imported by ``import reportlab_nlp``; torch is imported only by
``model``, ``train`` and ``export``.
"""
