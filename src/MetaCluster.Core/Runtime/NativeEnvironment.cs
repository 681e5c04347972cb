using System.Runtime.InteropServices;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// The process environment native libraries read (libc's environ): Environment.SetEnvironmentVariable only changes
/// .NET's copy. Set before libtorch loads — OpenMP and MKL read their variables once, when they initialise.
/// </summary>
public static partial class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> unless the user already did (Linux; elsewhere a no-op).</summary>
    public static void SetDefault(string name, string value)
    {
        if (OperatingSystem.IsLinux()) SetEnv(name, value, overwrite: 0);
    }

    /// <summary>The native value of <paramref name="name"/>, or null.</summary>
    public static string? Get(string name) => OperatingSystem.IsLinux() ? Marshal.PtrToStringUTF8(GetEnv(name)) : Environment.GetEnvironmentVariable(name);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr GetEnv(string name);
}
