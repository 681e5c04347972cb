using System.Reflection;
using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;

namespace MetaCluster.Gateway.Tests;

/// <summary>
/// Walks every field of the messages that cross a process boundary — Orleans grain messages (and grain method
/// signatures) and the gateway's protobuf messages — recursively, and names each field that could carry a client's
/// raw data: a tensor-like payload (an array of numbers or bytes) not on the allow-list, a field whose type is an
/// episode, tensor or image type, or a field that is not a single number or flag and whose name says images, labels, support or query sets, or episodes.
/// </summary>
public sealed class WireAudit(IReadOnlyDictionary<string, string> allowed)
{
    /// <summary>Names of raw data: matched against each field's name (C# PascalCase or proto snake_case).</summary>
    private static readonly Regex DataName = new("image|pixel|label|support|quer(y|ies)|episode|sample", RegexOptions.IgnoreCase);

    /// <summary>Types that hold data themselves; any type from these namespaces is refused outright.</summary>
    private static readonly string[] DataNamespaces = ["TorchSharp", "MetaCluster.Core.Episodes"];
    private static readonly string[] DataTypeNames = ["Tensor", "Episode", "ImageClassSet", "ImageFolder", "Bitmap", "Image"];

    private static readonly HashSet<Type> Numbers =
        [typeof(byte), typeof(sbyte), typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong), typeof(float), typeof(double), typeof(Half)];

    private readonly List<string> _problems = [];
    private readonly HashSet<string> _seen = [];

    public IReadOnlyList<string> Problems => _problems;

    /// <summary>Every field path the audit looked at (so a test can show it walked what it claims to).</summary>
    public List<string> Visited { get; } = [];

    public void CheckType(Type type) => Walk(type, type.Name);

    /// <summary>The parameters and results of a grain interface's methods (Task&lt;T&gt; unwrapped).</summary>
    public void CheckInterface(Type grainInterface)
    {
        foreach (var method in grainInterface.GetMethods())
        {
            foreach (var parameter in method.GetParameters()) Field($"{grainInterface.Name}.{method.Name}({parameter.Name})", parameter.Name!, parameter.ParameterType);
            var result = method.ReturnType.IsGenericType ? method.ReturnType.GetGenericArguments()[0] : null;
            if (result is not null) Field($"{grainInterface.Name}.{method.Name}→", "", result);
        }
    }

    public void CheckProto(MessageDescriptor message)
    {
        if (!_seen.Add("proto:" + message.FullName)) return;
        foreach (var field in message.Fields.InFieldNumberOrder())
        {
            string path = $"{message.Name}.{field.Name}";
            Visited.Add(path);
            bool scalar = !field.IsRepeated && field.FieldType is not (FieldType.Bytes or FieldType.String or FieldType.Message);
            if (!scalar && DataName.IsMatch(field.Name) && !allowed.ContainsKey(path)) _problems.Add($"{path}: its name says it holds raw data");
            bool numbersOrBytes = field.FieldType == FieldType.Bytes || (field.IsRepeated && field.FieldType is not (FieldType.String or FieldType.Message or FieldType.Enum or FieldType.Bool));
            if (numbersOrBytes && !allowed.ContainsKey(path)) _problems.Add($"{path}: a tensor-like payload ({(field.IsRepeated ? "repeated " : "")}{field.FieldType}) not on the allow-list");
            if (field.FieldType == FieldType.Message) CheckProto(field.MessageType);
        }
    }

    private void Walk(Type type, string name)
    {
        if (!_seen.Add(type.FullName ?? type.Name)) return;
        var members = type.GetProperties(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .Select(p => (Member: (MemberInfo)p, Type: p.PropertyType))
            .Concat(type.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
                .Where(f => !f.Name.Contains("k__BackingField")).Select(f => (Member: (MemberInfo)f, Type: f.FieldType)))
            .ToArray();
        // Orleans serializes the members marked [Id]; a type without any (a test's plain class) is audited in full.
        var serialized = members.Where(m => m.Member.GetCustomAttribute<IdAttribute>() is not null).ToArray();
        foreach (var (member, memberType) in serialized.Length > 0 ? serialized : members)
            Field($"{name}.{member.Name}", member.Name, memberType);
    }

    private void Field(string path, string fieldName, Type type)
    {
        Visited.Add(path);
        var element = Element(type, out bool collection);
        // One number, flag or time span cannot hold a client's data, whatever it is called (EpisodesPerSecond).
        bool scalar = !collection && (element.IsPrimitive || element.IsEnum || element == typeof(TimeSpan) || element == typeof(DateTime) || element == typeof(decimal));
        if (!scalar && fieldName.Length > 0 && DataName.IsMatch(fieldName) && !allowed.ContainsKey(path)) _problems.Add($"{path}: its name says it holds raw data");
        if (IsDataType(element)) _problems.Add($"{path}: its type {element.Name} holds episode, tensor or image data");
        else if (collection && Numbers.Contains(element) && !allowed.ContainsKey(path)) _problems.Add($"{path}: a tensor-like payload ({element.Name}[]) not on the allow-list");
        else if (IsMessage(element)) Walk(element, element.Name);
    }

    private static Type Element(Type type, out bool collection)
    {
        collection = false;
        type = Nullable.GetUnderlyingType(type) ?? type;
        // Orleans' pooled buffer is bytes on the wire, like a byte[] (WorkResult.PartialSum).
        if (type.FullName == "Orleans.Serialization.Buffers.PooledBuffer")
        {
            collection = true;
            return typeof(byte);
        }
        if (type.IsArray)
        {
            collection = true;
            return Element(type.GetElementType()!, out _);
        }
        if (type != typeof(string) && type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)) is { } enumerable)
        {
            collection = true;
            var args = enumerable.GetGenericArguments();
            // A dictionary's values are what it carries.
            return Element(args[0].IsGenericType && args[0].GetGenericTypeDefinition() == typeof(KeyValuePair<,>) ? args[0].GetGenericArguments()[1] : args[0], out _);
        }
        return type;
    }

    private static bool IsDataType(Type type) =>
        DataNamespaces.Any(ns => type.Namespace?.StartsWith(ns, StringComparison.Ordinal) == true) || DataTypeNames.Contains(type.Name);

    /// <summary>A type whose fields travel too: a class or struct of ours (or a test's), not a primitive, string, enum or framework type.</summary>
    private static bool IsMessage(Type type) =>
        !type.IsPrimitive && !type.IsEnum && type != typeof(string) && type != typeof(decimal)
        && type.Namespace?.StartsWith("System", StringComparison.Ordinal) != true && type.Namespace?.StartsWith("Orleans", StringComparison.Ordinal) != true;
}
