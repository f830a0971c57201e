# Sourced by the shell tests that train on Fashion-MNIST: where it is not installed, the test is skipped, saying so.
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "skipped: Fashion-MNIST is not installed (apt install dataset-fashion-mnist)"
  exit 0
fi
