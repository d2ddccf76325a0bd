"""The split CNN: the device half (first layers) and the server half (the rest).

The cut is after conv1 + ReLU + max-pool, so activations are non-negative
[batch, 32, 14, 14] float32 tensors: exactly what MS encodes.
"""
import torch
from torch import nn


def client_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


def server_model():
    return nn.Sequential(
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def optimizer(params, lr):
    # The paper's setup is SGD with momentum 0.9 and weight decay 5e-4.
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
