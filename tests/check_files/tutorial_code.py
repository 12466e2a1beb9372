"""The tutorial's own code, copied verbatim from its §2.2, §2.3, §5.1 and §6 (prints included)."""

import torch
from torch import nn

def corr2d(X, K):
    # 获取K的尺寸：高和宽
    h, w = K.shape
    # 计算输出尺寸
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    # 卷积运算
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
    
X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
print(corr2d(X, K))

class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))
        
    def forward(self, x):
        return corr2d(x, self.weight) + self.bias

# 设置卷积核尺寸
conv2d = Conv2D((2,2))

# 卷积运算
print(conv2d(X))

# 自定义汇聚层
import torch
from torch import nn

def pool2d(X, pool_size, mode='max'):
    # 获取汇聚层尺寸
    p_h, p_w = pool_size
    # 设置输出层尺寸
    Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            if mode == 'max':
                Y[i, j] = X[i: i + p_h, j: j + p_w].max()
            elif mode == 'avg':
                Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
    return Y

X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
print(pool2d(X, (2, 2), 'max'))
print(pool2d(X, (2, 2), 'avg'))

import torch
from torch import nn      
    
net_LeNet = nn.Sequential(
    # 输入通道、输出通道、卷积核、填充、步幅为默认1
    nn.Conv2d(1, 6, kernel_size=5, padding=2), # 卷积层
    nn.Sigmoid(), # 激活层
    # 汇聚窗口、无填充、步幅
    nn.AvgPool2d(kernel_size=2, stride=2), # 平均汇聚层（池化层）
    # 输入通道、输出通道、卷积核、无填充、步幅为默认1
    nn.Conv2d(6, 16, kernel_size=5),
    nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    # 特征向量展平为一维向量
    nn.Flatten(), # 展平层
    # 输入通道（上一层特征输出通道*尺寸）、输出通道
    nn.Linear(16 * 5 * 5, 120), # 全连接层
    nn.Sigmoid(),
    nn.Linear(120, 84),
    nn.Sigmoid(),
    nn.Linear(84, 10))

x_LeNet = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)

for layer in net_LeNet:
    x_LeNet = layer(x_LeNet)
    print(layer.__class__.__name__,'output shape: \t',x_LeNet.shape)
