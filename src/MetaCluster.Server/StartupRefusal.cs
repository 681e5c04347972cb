namespace MetaCluster.Server;

/// <summary>A reason not to start, said in one line: the server prints "error: " + the message and exits with 2.</summary>
public sealed class StartupRefusal(string message) : Exception(message);
