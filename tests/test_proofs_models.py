"""The torch models and helpers of the network proof modules, tested directly (without the proof engine)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from proofs import alexnet_ops, bn_fold, conv1d_backprop, fc_as_conv, layernorm, resnext_block


def test_folded_small_net_matches_torch_fusion_parameters():
    net = bn_fold.trained_small_net(11)
    ours = bn_fold.folded_small_net(net)
    theirs = bn_fold.torch_fused_small_net(net)
    for name in bn_fold.FOLDED:
        torch.testing.assert_close(getattr(ours, name)[0].weight, getattr(theirs, name)[0].weight)
        torch.testing.assert_close(getattr(ours, name)[0].bias, getattr(theirs, name)[0].bias)


def test_training_moves_the_running_statistics():
    bn = bn_fold.trained_small_net(11).conv1[1]
    assert (bn.running_mean - 0).abs().max() > 0.05
    assert (bn.running_var - 1).abs().max() > 0.05


def test_folding_is_wrong_in_train_mode():
    """The folded network reproduces eval mode only: train mode normalizes with the batch statistics."""
    net = bn_fold.trained_small_net(11)
    x = bn_fold.Images().draw(16, {}, torch.Generator().manual_seed(0))
    folded = bn_fold.folded_small_net(net)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net.eval()(x))
        assert not torch.allclose(folded(x), bn_fold.copy.deepcopy(net).train()(x))


def test_my_batchnorm_running_mean_broadcasts_to_c_by_c():
    bn = layernorm.myBatchNorm(3)
    x = torch.randn(5, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    bn(x, 'train')
    assert bn.run_mean.shape == (1, 3, 1, 3)
    torch.testing.assert_close(bn.run_mean[0, :, 0, 0], 0.1 * x.mean(dim=(0, 2, 3)))
    # every column is the same channel-wise running mean
    torch.testing.assert_close(bn.run_mean[0, :, 0, :], bn.run_mean[0, :, 0, :1].expand(3, 3))


def test_my_batchnorm_stats_are_not_buffers():
    bn = layernorm.myBatchNorm(3)
    assert "run_mean" not in bn.state_dict() and "run_var" not in bn.state_dict()
    assert bn.to(torch.float64).run_mean.dtype == torch.float32


def test_layernorm_matches_torch_on_one_batch():
    x = torch.randn(4, 3, 5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours = layernorm.MyLayerNorm((3, 5, 2)).to(torch.float64)
    torch.testing.assert_close(ours(x), torch.nn.LayerNorm((3, 5, 2)).to(torch.float64)(x))


def test_conv_transpose_is_the_adjoint_of_conv():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    v = torch.randn(6, 9, generator=gen, dtype=torch.float64)
    u = torch.randn(6, 7, generator=gen, dtype=torch.float64)
    lhs = (conv1d_backprop.conv(v, w) * u).sum(-1)
    rhs = (v * conv1d_backprop.conv_transpose(u, w)).sum(-1)
    torch.testing.assert_close(lhs, rhs)
    torch.testing.assert_close(conv1d_backprop.toeplitz(w, 9) @ v.unsqueeze(-1), conv1d_backprop.conv(v, w).unsqueeze(-1))


def test_net2_output_map_has_one_position_per_window():
    net2 = fc_as_conv.net2_from(fc_as_conv.random_net1(0))
    with torch.no_grad():
        out = net2(torch.randn(2, 3, 36, 38, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    assert out.shape == (2, fc_as_conv.CLASSES, 36 - 31, 38 - 31)


def test_literal_resnext_code_differs_from_resnet():
    block = resnext_block.random_resnext(0)
    literal = resnext_block.TwoResNeXt(relu_per_branch=True).to(torch.float64)
    literal.load_state_dict(block.state_dict())
    x = torch.randn(2, 64, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        resnet = resnext_block.resnet_from_resnext(block)
        torch.testing.assert_close(block(x), resnet(x))
        assert (literal(x) - resnet(x)).max() > 1e-3
        assert (literal(x) - resnet(x)).min() > -1e-12


def test_block_diagonal_round_trip_and_grouped_conv():
    gen = torch.Generator().manual_seed(0)
    grouped = torch.randn(resnext_block.HIDDEN, resnext_block.WIDTH, 3, 3, generator=gen, dtype=torch.float64)
    dense = resnext_block.block_diagonal(grouped)
    torch.testing.assert_close(resnext_block.diagonal_blocks(dense), grouped)
    x = torch.randn(1, resnext_block.HIDDEN, 4, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(F.conv2d(x, dense, padding=1), F.conv2d(x, grouped, padding=1,
                                                                       groups=resnext_block.GROUPS))


def test_alexnet_parameter_share_is_the_problems_96_percent_only_with_groups():
    for grouped, share in ((True, 96), (False, 94)):
        params = alexnet_ops.closed_form_parameters(grouped)
        module = alexnet_ops.alexnet_module(grouped)
        assert sum(params) == sum(q.numel() for q in module.parameters())
        assert round(100 * sum(params[5:]) / sum(params)) == share


def test_alexnet_output_sizes_chain_to_6x6():
    """conv1 55, pool 27, conv2 27, pool 13, conv3-5 13, pool 6: fc6 sees 256·6·6 = 9216 inputs."""
    module = alexnet_ops.alexnet_module()
    flatten = next(i for i, m in enumerate(module) if isinstance(m, torch.nn.Flatten))
    out = module[:flatten](torch.empty(1, 3, 227, 227, device="meta"))
    assert out.shape == (1, 256, 6, 6)
