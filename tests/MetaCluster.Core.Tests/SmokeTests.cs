public class Smoke { [Xunit.Fact] public void Loads() => Xunit.Assert.Equal(4f, TorchSharp.torch.tensor(2f).pow(2).item<float>()); }
