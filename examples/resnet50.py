"""ResNet-50 pruned into the delegate's structures and run with the tf_sparse delegate: see
imagenet_cnn.py for what is pruned, the options and the data.

    python examples/resnet50.py [--data DIR] [--weights FILE] [--image-size 224] [--steps 100] ...
"""

from imagenet_cnn import main

if __name__ == "__main__":
    main(arch="resnet50")
