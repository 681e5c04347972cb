using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// A model whose parameters are passed in explicitly, so an inner loop can replace them with adapted ("fast")
/// tensors and still differentiate through the adaptation. The parameter list is split into a body (feature
/// extractor: parameters [0, <see cref="HeadStart"/>)) and a head (the rest): ANIL adapts only the head,
/// prototypical networks use only the body.
/// </summary>
public interface IFunctionalModel
{
    string Name { get; }
    ParameterLayout Layout { get; }
    int HeadStart { get; }

    /// <summary>True when outputs depend on the whole batch (batch norm on batch statistics): evaluation then has to
    /// say whether query examples were normalised together (transductive) or one at a time with the support set.</summary>
    bool UsesBatchStatistics { get; }

    /// <summary>Features of a batch, [n, features], from the body parameters only.</summary>
    Tensor Embed(Tensor x, IReadOnlyList<Tensor> body);

    /// <summary>Outputs from features, using the head parameters only.</summary>
    Tensor Head(Tensor features, IReadOnlyList<Tensor> head);

    /// <summary>Deterministic initial parameters (same seed ⇒ same bits on every machine).</summary>
    ParameterSet Initialize(ulong seed);
}

public static class FunctionalModelExtensions
{
    public static Tensor Forward(this IFunctionalModel model, Tensor x, IReadOnlyList<Tensor> parameters) =>
        model.Head(model.Embed(x, Body(model, parameters)), HeadOf(model, parameters));

    public static IReadOnlyList<Tensor> Body(this IFunctionalModel model, IReadOnlyList<Tensor> parameters) =>
        parameters.Take(model.HeadStart).ToArray();

    public static IReadOnlyList<Tensor> HeadOf(this IFunctionalModel model, IReadOnlyList<Tensor> parameters) =>
        parameters.Skip(model.HeadStart).Take(model.Layout.Count - model.HeadStart).ToArray();
}
