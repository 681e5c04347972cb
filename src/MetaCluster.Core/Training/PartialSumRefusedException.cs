namespace MetaCluster.Core.Training;

/// <summary>
/// A partial sum refused before any of it was added — its wire form's header is malformed, or it holds another number
/// of contributions than the episodes it names — so the sum it was meant for is as it was and stays usable: the caller
/// can drop that one partial sum (and count its episodes as failed) and keep everything else.
/// </summary>
public sealed class PartialSumRefusedException(string message, Exception? inner = null) : InvalidOperationException(message, inner);
