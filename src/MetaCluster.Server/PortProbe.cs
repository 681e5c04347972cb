using System.Net;
using System.Net.Sockets;

namespace MetaCluster.Server;

/// <summary>
/// Refuses to start on a port another process holds, before the silo goes near the membership table.
/// </summary>
/// <remarks>
/// Why not let the bind fail: Orleans' listeners bind with address reuse, so on Linux a second server on a running
/// one's silo or gateway port binds without an error and shares the port; and when its silo then joins, membership sees
/// the same IP:port with a newer generation and declares the running silo dead ("Detected older version of myself").
/// A live silo must never be evicted by a typo, so each port is bound here, exclusively (no reuse option: a listener
/// holding the port, with or without reuse, makes this bind fail) and released at once. Connections in TIME_WAIT that
/// a killed predecessor left on the port do not: .NET binds TCP sockets on Linux with SO_REUSEADDR (checked: a server
/// restarts at once on the ports of one killed with SIGKILL, as the lifecycle test's coordinator does).
/// <para>
/// The race — probe, release, the silo binds a second or two later — is acceptable: losing it takes a second process
/// started with the same port within that moment, and the silo that a loser could evict is one that has not finished
/// starting either; a server that is already running holds its ports and always makes the probe fail. A live silo
/// elsewhere at the same advertised endpoint (a wrong --advertised-ip) is caught by <see cref="RedisPreflight"/>.
/// </para>
/// </remarks>
public static class PortProbe
{
    /// <summary>Throws <see cref="StartupRefusal"/> naming the first of the server's ports that cannot be bound.</summary>
    public static void EnsureFree(ServerOptions options)
    {
        foreach (var (flag, port) in new[] { ("--silo-port", options.SiloPort), ("--gateway-port", options.GatewayPort), ("--http-port", options.HttpPort) })
            EnsureFree(flag, port, options.AdvertisedAddress);
        if (options.FederationPort is { } federation) EnsureFree("--federation-port", federation, options.AdvertisedAddress);
        if (options.BulkTransfer && options.BulkPort != 0) EnsureFree("--bulk-port", options.BulkPort, options.AdvertisedAddress);
    }

    /// <summary>
    /// The advertised address first (the address people know the server by, so the message names it), then the
    /// wildcards the server listens on: Orleans binds 0.0.0.0 with Redis membership, Kestrel [::] (both families).
    /// </summary>
    public static void EnsureFree(string flag, int port, IPAddress advertised)
    {
        var addresses = new List<IPAddress> { advertised, IPAddress.Any };
        if (Socket.OSSupportsIPv6) addresses.Add(IPAddress.IPv6Any);
        foreach (var address in addresses.Distinct())
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (address.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            try
            {
                socket.Bind(new IPEndPoint(address, port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new StartupRefusal($"port {port} ({flag}) is already in use on {address}; choose another port or stop the process that holds it.");
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
            {
                throw new StartupRefusal($"port {port} ({flag}) may not be bound on {address} by this user (permission denied); choose a port above 1023.");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported)
            {
                // An advertised address that is not this machine's (NAT, a port mapping) or no IPv6: nothing listens there.
            }
        }
    }
}
