using System.Net.Sockets;

namespace MetaCluster.Grains.Bulk;

/// <summary>Whole-buffer sends and receives on a stream socket: one call asks the kernel for everything still missing.</summary>
internal static class BulkSockets
{
    /// <summary>Fills <paramref name="buffer"/>; false if the peer closed before its first byte, an error if it closed part-way.</summary>
    public static async ValueTask<bool> ReceiveExactly(Socket socket, Memory<byte> buffer, CancellationToken token)
    {
        int received = 0;
        while (received < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[received..], SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
            {
                if (received == 0) return false;
                throw new SocketException((int)SocketError.ConnectionReset);
            }
            received += n;
        }
        return true;
    }

    public static async ValueTask SendAll(Socket socket, ReadOnlyMemory<byte> buffer, CancellationToken token)
    {
        while (buffer.Length > 0)
        {
            int n = await socket.SendAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }
}
