using TorchSharp;
using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// Scalars that stay alive while libtorch reads them, for hot loops.
/// <para>
/// TorchSharp turns a .NET number into a native <see cref="Scalar"/> (implicitly: <c>1 - t</c>, <c>t + 1e-8</c>,
/// <c>0.95 * t</c>, the <c>alpha = 1</c> of every tensor <c>+</c> and of <c>add(x)</c> / <c>add_(x)</c>, the
/// exponent of <c>square()</c>, which is <c>pow(2)</c>), passes its handle to libtorch and leaves the
/// Scalar to its finalizer. Nothing keeps it reachable during the native call, so a garbage collection on another
/// thread can finalize it — free it — while the kernel still reads it; libtorch then fails with "Expected false to be
/// true … toFloat" (TorchSharp PRs #1434 and #1496 are open about these Scalars). Rare per call, but a 20-way MANN
/// evaluation makes millions of them and failed now and then. Code on such paths uses these statics (always
/// reachable) or holds its own Scalar and calls <see cref="GC.KeepAlive"/> after the op.
/// </para>
/// </summary>
public static class HeldScalars
{
    public static readonly Scalar One = 1.0.ToScalar();

    /// <summary>The exponent of <see cref="Square"/>: an integer 2, as TorchSharp's <c>square()</c> passes.</summary>
    private static readonly Scalar Two = 2;

    /// <summary><c>t²</c> with the exponent held: TorchSharp's <c>square()</c> is <c>pow(2)</c> with an implicit Scalar.</summary>
    public static Tensor Square(Tensor t) => t.pow(Two);

    /// <summary><c>a + b</c> with the alpha Scalar held (TorchSharp's <c>+</c> makes a fresh one per call).</summary>
    public static Tensor Plus(Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>t + value</c> with both Scalars held.</summary>
    public static Tensor Plus(Tensor t, Scalar value) => t.add(value, One);

    /// <summary><c>1 − t</c> without an implicit Scalar.</summary>
    public static Tensor OneMinus(Tensor t) => t.negative().add(One, One);

    /// <summary><c>value · t</c> with a Scalar made for the call and disposed after it (so alive while libtorch reads it).</summary>
    public static Tensor Times(Tensor t, double value)
    {
        using var scalar = value.ToScalar();
        return t.mul(scalar);
    }

    /// <summary><c>value · t</c>, keeping <paramref name="value"/> alive until libtorch has read it.</summary>
    public static Tensor Times(Tensor t, Scalar value)
    {
        var result = t.mul(value);
        GC.KeepAlive(value);
        return result;
    }
}
