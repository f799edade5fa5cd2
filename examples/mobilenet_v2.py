"""MobileNetV2 pruned into the delegate's structures and run with the tf_sparse delegate: see
imagenet_cnn.py for what is pruned, the options and the data. mobilenet_v2_tfmot.py prunes it as
tfmot users do (gradual unstructured magnitude pruning, the stock converter).

    python examples/mobilenet_v2.py [--data DIR] [--weights FILE] [--image-size 224] [--steps 100] ...
"""

from imagenet_cnn import main

if __name__ == "__main__":
    main(arch="mobilenet_v2")
