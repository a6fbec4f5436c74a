using System.Text.Json.Nodes;
using VoiceAgent.Core;

namespace VoiceAgent.Tests.Shared;

/// <summary>Scratch copies of the demo pack for loader tests: manifest and vocabulary copied, graphs linked (no 40 MB copies).</summary>
internal static class ScratchPack
{
    public static string CopyDemo(string group, string name, bool linkGolden = false)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "scratch", group, name);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }

        Directory.CreateDirectory(dir);
        var demo = VoiceAgentPaths.DemoPackDirectory!;
        foreach (var file in Directory.GetFiles(demo))
        {
            var target = Path.Combine(dir, Path.GetFileName(file));
            if (file.EndsWith(".onnx", StringComparison.Ordinal))
            {
                File.CreateSymbolicLink(target, file);
            }
            else
            {
                File.Copy(file, target);
            }
        }

        if (linkGolden)
        {
            Directory.CreateSymbolicLink(Path.Combine(dir, "golden"), Path.Combine(demo, "golden"));
        }

        return dir;
    }

    /// <summary>How the loader names a file in its messages: repository-relative when inside the checkout.</summary>
    public static string Display(string path)
    {
        var relative = Path.GetRelativePath(VoiceAgentPaths.Root!, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative.Replace('\\', '/');
    }

    public static void EditManifest(string dir, Action<JsonNode> edit)
    {
        var path = Path.Combine(dir, "manifest.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }
}
