"""symdistill: discover force laws from particle data with graph networks and symbolic regression."""

__version__ = "0.1.0"
