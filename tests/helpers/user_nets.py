"""Networks a user might write (torchvision is not importable here): the tests copy this file
into a temporary folder and name it with `--model FILE.py:NAME`."""

import torch
from torch import nn


class LeNetMax(nn.Module):
    """The tutorial's exercise: LeNet with max pooling, ReLU and a chosen first width."""

    def __init__(self, num_classes=10, in_channels=1, width=6):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    """torchvision's AlexNet layout, for 3×224×224 images."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))  # a residual addition


class ResCat(nn.Module):
    """Residual additions and a concatenation of two branches, global average pooling at the end."""

    def __init__(self, num_classes, in_channels=1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block = Block(8)
        self.left = nn.Conv2d(8, 4, 1)
        self.right = nn.Sequential(nn.AvgPool2d(3, 1, padding=1), nn.Conv2d(8, 4, 3, padding=1))
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))

    def forward(self, x):
        x = self.block(self.stem(x))
        x = torch.cat([self.left(x), self.right(x)], dim=1)  # (N, 8, H, W)
        return self.head(self.pool(x))


def cifar_net(num_classes, in_channels, input_size, width=16):
    """A function returning a module, for 3×32×32 images (sized from input_size)."""
    h, w = input_size
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), num_classes),
    )  # fmt: skip


class Tied(nn.Module):
    """One convolution applied twice (its weights tied) and a classifier."""

    def __init__(self, num_classes, in_channels=1):
        super().__init__()
        self.inp = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.shared = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 7 * 7, num_classes)

    def forward(self, x):
        x = self.pool(torch.relu(self.shared(torch.relu(self.inp(x)))))
        x = self.pool(torch.relu(self.shared(x)))  # the same weights again
        return self.fc(x.flatten(1))


class ThreeChannels(nn.Module):
    """Written for RGB images: its forward fails on the 1-channel data, in the user's own line."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x):
        x = self.conv(x)  # (the line the traceback shows)
        return self.fc(x.flatten(1))


def wrong_outputs():
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 7))


def too_small():
    return nn.Sequential(nn.Flatten(), nn.Linear(100, 10))


NOT_A_MODULE = 3
