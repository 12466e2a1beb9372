"""convlab: convolutional neural networks made real, from the pixel grid to a trained LeNet.

Import what you need from the modules (`convlab.ops`, `convlab.layers`, `convlab.models`,
`convlab.train`, ...); importing the package itself stays light.
"""

__version__ = "0.2.0"
