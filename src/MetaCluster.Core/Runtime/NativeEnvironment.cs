using System.Runtime.InteropServices;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// The process environment native libraries read (libc's environ): Environment.SetEnvironmentVariable only changes
/// .NET's copy. Set before libtorch loads — OpenMP and MKL read their variables once, when they initialise.
/// </summary>
public static partial class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> unless the user already did; returns the value in force.</summary>
    public static string SetDefault(string name, string value)
    {
        if (OperatingSystem.IsLinux() && GetEnv(name) == IntPtr.Zero) SetEnv(name, value, overwrite: 0);
        return OperatingSystem.IsLinux() ? Marshal.PtrToStringUTF8(GetEnv(name)) ?? value : value;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr GetEnv(string name);
}
