using MetaCluster.Core.Episodes;
using MetaCluster.Core.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Models;

/// <summary>
/// The MAML paper's 4-block CNN: 4 × [3×3 conv (64 filters, padding 1), batch norm with the batch's own statistics
/// (no running averages, as the MAML reference code), ReLU, 2×2 max-pool], then a linear head to N classes.
/// 28×28 inputs shrink 28→14→7→3→1, so the head sees 64 features. With <see cref="Downsampling.StridedConv"/> each
/// block is [3×3 conv with stride 2, batch norm, ReLU] and the last block's map is averaged over its positions — the
/// network of MAML's and Reptile's Omniglot experiments (and learn2learn's OmniglotCNN): 28→14→7→4→2, again 64
/// features, with about a quarter of the convolution work (every convolution runs on the smaller map). Initialised as the reference and learn2learn:
/// Xavier-uniform convolutions, zero biases, BN γ=1 β=0, a standard-normal head weight and zero head bias.
/// <see cref="HeadInit.Zeros"/> starts the head at zero instead (as UNICORN-MAML does): every class starts equally
/// likely, so the first inner steps already separate the classes instead of first undoing a random head's large logits.
/// </summary>
public sealed partial class Conv4 : IFunctionalModel
{
    public const int Blocks = 4;
    private readonly int _inChannels, _filters, _classes, _imageSize;
    private readonly HeadInit _headInit;
    private readonly Downsampling _downsampling;
    private readonly int _tasksPerPass;

    /// <param name="tasksPerPass">with task batching, the most tasks in one grouped computation (see <see cref="DefaultTasksPerPass"/>).</param>
    public Conv4(int classes, int inChannels = 1, int filters = 64, int imageSize = 28, HeadInit headInit = HeadInit.Normal,
        int tasksPerPass = DefaultTasksPerPass, Downsampling downsampling = Downsampling.MaxPool)
    {
        // Refuses native settings under which oneDNN's convolution gradients are wrong (NumericalReproducibility).
        TorchRuntime.EnsureLoaded();
        _headInit = headInit;
        _downsampling = downsampling;
        if (tasksPerPass < 1) throw new ArgumentException($"tasks per pass must be at least 1 (got {tasksPerPass}).");
        _tasksPerPass = tasksPerPass;
        if (classes < 2) throw new ArgumentException($"a classifier needs at least 2 classes (got {classes}).");
        _classes = classes;
        _inChannels = inChannels;
        _filters = filters;
        _imageSize = imageSize;
        int spatial = imageSize;
        for (int i = 0; i < Blocks; i++) spatial /= 2;
        // A stride-2 convolution with padding 1 maps n to ⌈n/2⌉ ≥ 1, so only pooling can run out of pixels.
        if (imageSize < 1 || (downsampling == Downsampling.MaxPool && spatial < 1))
            throw new ArgumentException($"images of {imageSize}×{imageSize} are too small for 4 pooling blocks (need at least 16×16, or --conv-downsample stride).");
        // Strided blocks average the last map, so the head sees one value per filter whatever the image size.
        FeatureCount = downsampling == Downsampling.StridedConv ? filters : filters * spatial * spatial;
        var parameters = new List<(string, long[])>();
        for (int b = 1; b <= Blocks; b++)
        {
            int cin = b == 1 ? inChannels : filters;
            parameters.Add(($"conv{b}.weight", [filters, cin, 3, 3]));
            parameters.Add(($"conv{b}.bias", [filters]));
            parameters.Add(($"bn{b}.weight", [filters]));
            parameters.Add(($"bn{b}.bias", [filters]));
        }
        parameters.Add(("head.weight", [classes, FeatureCount]));
        parameters.Add(("head.bias", [classes]));
        Layout = new ParameterLayout(parameters);
        HeadStart = Blocks * 4;
    }

    public string Name => $"conv4-{_filters}f-{_imageSize}px-{_classes}way{(Strided ? "-strided" : "")}";
    public Downsampling Downsampling => _downsampling;
    private bool Strided => _downsampling == Downsampling.StridedConv;
    public ParameterLayout Layout { get; }
    public int HeadStart { get; }
    public bool UsesBatchStatistics => true;
    public int FeatureCount { get; }
    public int Classes => _classes;

    public Tensor Embed(Tensor x, IReadOnlyList<Tensor> body)
    {
        x = ChannelsLast(x);
        for (int b = 0; b < Blocks; b++)
            x = Block(Convolve(x, body[4 * b], body[4 * b + 1]), body[4 * b + 2], body[4 * b + 3]);
        return Features(x);
    }

    /// <summary>A block's 3×3 convolution (padding 1): stride 2 when the block downsamples by striding.</summary>
    private Tensor Convolve(Tensor x, Tensor weight, Tensor bias, long groups = 1) =>
        F.conv2d(x, weight, bias, strides: Strided ? [2, 2] : [1, 1], padding: [1, 1], groups: groups);

    /// <summary>
    /// Batch norm, then 2×2 max-pool and ReLU, or only ReLU when the convolution has already downsampled. Pooling
    /// before the ReLU is the same function with the same gradient (max(relu(a), relu(b)) = relu(max(a, b)), and both
    /// pick the first maximum of a window) on a quarter of the values.
    /// </summary>
    private Tensor Block(Tensor convolved, Tensor gamma, Tensor beta)
    {
        var normalised = F.batch_norm(convolved, null, null, gamma, beta, training: true);
        return F.relu(Strided ? normalised : F.max_pool2d(normalised, 2));
    }

    /// <summary>
    /// The last map [n, C, s, s] as the head's input: flattened (c, row, column), or with strided blocks averaged over
    /// its positions (MAML's Omniglot network: tf.reduce_mean over the map).
    /// </summary>
    private Tensor Features(Tensor map) => Strided ? map.mean([2, 3]) : map.flatten(1);

    /// <summary>
    /// The same tensor laid out channels-last (NHWC strides, NCHW shape). It makes the forward pass several times
    /// faster on CPU: oneDNN then writes the convolutions' output as it computes it, and libtorch's batch norm and
    /// max-pool kernels run vectorised over channels (the NCHW max-pool is a branchy scalar loop that dominates the
    /// pass; measurements: docs/benchmarks.md). Every later block stays channels-last on its own.
    /// A single-channel image is already NHWC in memory, so it only needs the strides that say so (no copy).
    /// </summary>
    public static Tensor ChannelsLast(Tensor x)
    {
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        if (c == 1 && x.is_contiguous()) return x.as_strided([n, c, h, w], [h * w, 1, w, 1]);
        return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }

    public Tensor Head(Tensor features, IReadOnlyList<Tensor> head) => F.linear(features, head[0], head[1]);

    public ParameterSet Initialize(ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var values = new float[Layout.TotalCount];
        foreach (var p in Layout.Parameters)
        {
            var span = values.AsSpan(p.Offset, p.Count);
            if (p.Name.StartsWith("conv") && p.Name.EndsWith(".weight"))
            {
                int receptive = (int)(p.Shape[2] * p.Shape[3]);
                Initializers.XavierUniform(span, (int)p.Shape[1] * receptive, (int)p.Shape[0] * receptive, rng);
            }
            else if (p.Name.StartsWith("bn") && p.Name.EndsWith(".weight")) Initializers.Fill(span, 1f);
            else if (p.Name == "head.weight" && _headInit == HeadInit.Normal) Initializers.StandardNormal(span, rng);
            else Initializers.Fill(span, 0f);
        }
        return new ParameterSet(Layout, values);
    }
}

/// <summary>
/// How Conv4's blocks halve the map: a 2×2 max-pool after a stride-1 convolution (ProtoNets, MAML on mini-ImageNet,
/// MAML++), or the convolution's own stride of 2 (MAML's and Reptile's Omniglot network).
/// </summary>
public enum Downsampling
{
    MaxPool,
    StridedConv,
}

/// <summary>How a classifier's output layer starts: standard normal (the MAML reference code) or all zeros.</summary>
public enum HeadInit
{
    Normal,
    Zeros,
}
