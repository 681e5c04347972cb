namespace MetaCluster.Grains.Bulk;

/// <summary>A fetch over the bulk channel failed: the publisher is gone, the blob was withdrawn, or the bytes did not arrive whole.</summary>
public sealed class BulkTransferException(string message, Exception? inner = null) : Exception(message, inner);
